/** Bundles the console page's browser code; true when adapters/console/page-script.gen.ts changed. */
export function bundleConsole(): boolean;
