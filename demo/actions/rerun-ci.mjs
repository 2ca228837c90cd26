/**
 * Demo action rerun-demo-ci (validator, test-run, tier 2, allowlisted): "re-runs" a failed CI
 * workflow. It always passes, so validator calls the failure flaky. Writes only a result file
 * into the demo folder.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, report, subFolder } from './demo-folder.mjs';

const workflow = arg('workflow', /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/);
const file = join(subFolder('ci'), `rerun-${Date.now()}.txt`);
const summary = `workflow "${workflow}" re-run: 42 tests passed, 0 failed`;
writeFileSync(file, `${summary}\n`);
report(`${summary} (the first failure was flaky); result in ${file}`);
