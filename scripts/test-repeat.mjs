/**
 * Runs the test suite N times in a row and counts, per test, how many runs it failed in: the way to
 * find tests that pass or fail depending on timing. Plain JS, no dependency beyond vitest:
 *
 *   npm run test:repeat [N] [-- --busy] [vitest filters...]
 *   node scripts/test-repeat.mjs 10 --busy test/bot.test.ts
 *
 * N defaults to 10. --busy keeps one core busy (a `node -e "for(;;){}"` child) during every other
 * run (runs 2, 4, ...), like a loaded CI machine. Everything else goes to `vitest run` as is (file
 * filters, -t, ...). Builds once first (a few process tests run dist/). Each run's console output and
 * JSON report stay in a temp folder, named at the end. Prints a table of the failed tests (file >
 * name, failures/N, the runs they failed in, the first line of each different failure) and exits 1
 * when any test failed in any run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const countArg = args.find((a) => /^\d+$/.test(a));
const runs = countArg ? Number(countArg) : 10;
const busy = args.includes('--busy');
const vitestArgs = args.filter((a) => a !== countArg && a !== '--busy');
if (runs < 1) {
  process.stderr.write('usage: test-repeat.mjs [N >= 1] [--busy] [vitest filters...]\n');
  process.exit(2);
}

const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const out = mkdtempSync(join(tmpdir(), 'test-repeat-'));
/** "file > describe > test" -> the runs it failed in, and how often each first line of a failure came */
const failed = new Map();

function record(key, message, run) {
  let [line = ''] = String(message ?? '')
    .trim()
    .split('\n');
  // Vitest's JSON report loses the message of some errors (a test timeout among them).
  if (line === 'Error: STACK_TRACE_ERROR')
    line = "(no message in the JSON report: a timeout? see the run's log)";
  const entry = failed.get(key) ?? { runs: [], lines: new Map() };
  entry.runs.push(run);
  entry.lines.set(line, (entry.lines.get(line) ?? 0) + 1);
  failed.set(key, entry);
}

function runVitest(i) {
  const json = join(out, `run-${i}.json`);
  const log = createWriteStream(join(out, `run-${i}.log`));
  const reporters = ['--reporter=dot', '--reporter=json', `--outputFile.json=${json}`];
  const child = spawn('npx', ['vitest', 'run', ...reporters, ...vitestArgs], { cwd: ROOT });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  return new Promise((done) => child.on('close', (code) => log.end(() => done({ code, json }))));
}

for (let i = 1; i <= runs; i++) {
  const loaded = busy && i % 2 === 0;
  const hog = loaded ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : undefined;
  const started = Date.now();
  const { code, json } = await runVitest(i);
  hog?.kill('SIGKILL');
  const seconds = Math.round((Date.now() - started) / 1000);
  let summary = `exit ${code}, no JSON report (see run-${i}.log)`;
  if (existsSync(json)) {
    const report = JSON.parse(readFileSync(json, 'utf8'));
    let failedTests = 0;
    for (const file of report.testResults) {
      const name = relative(ROOT, file.name);
      const tests = file.assertionResults.filter((t) => t.status === 'failed');
      for (const t of tests) {
        record([name, ...t.ancestorTitles, t.title].join(' > '), t.failureMessages[0], i);
      }
      failedTests += tests.length;
      // A file can fail with no failed test: an import error, a failing hook, a crashed worker.
      if (file.status === 'failed' && tests.length === 0) record(`${name} > (file)`, file.message, i);
    }
    if (code !== 0 && failedTests === 0 && report.numFailedTestSuites === 0) {
      record('(run) > exit code without a failed test', `see run-${i}.log (unhandled error?)`, i);
    }
    summary = `${report.numPassedTests} passed, ${report.numFailedTests} failed, exit ${code}`;
  } else {
    record('(run) > no JSON report', `see run-${i}.log`, i);
  }
  process.stdout.write(`run ${i}/${runs}${loaded ? ' (busy)' : ''}: ${summary}, ${seconds} s\n`);
}

process.stdout.write(`\nlogs and JSON reports: ${out}\n`);
if (failed.size === 0) {
  process.stdout.write(`no test failed in ${runs} runs\n`);
  process.exit(0);
}
process.stdout.write(`\n${failed.size} test(s) failed at least once:\n\n`);
const rows = [...failed].sort((a, b) => b[1].runs.length - a[1].runs.length || a[0].localeCompare(b[0]));
for (const [key, { runs: failedRuns, lines }] of rows) {
  process.stdout.write(
    `${String(failedRuns.length).padStart(3)}/${runs}  ${key}  (run ${failedRuns.join(', ')})\n`,
  );
  for (const [line, n] of lines) process.stdout.write(`        ${n}x ${line}\n`);
}
process.exit(1);
