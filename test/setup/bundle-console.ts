/**
 * Vitest global setup: bundles the console page's browser code before the tests import the page
 * (adapters/console/page-script.gen.ts is generated, not committed), so `npx vitest run` works on a
 * fresh checkout without a build. Writes only when the script changed.
 */
import { bundleConsole } from '../../scripts/bundle-console.mjs';

export default function setup(): void {
  bundleConsole();
}
