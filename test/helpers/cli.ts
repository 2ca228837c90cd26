/** `autonomy ARGS` run in this process (src/cli.ts run()), with its output collected. */
import { PassThrough } from 'node:stream';
import { run } from '../../src/cli.js';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runCli(
  args: readonly string[],
  io: { env: Record<string, string | undefined>; cwd: string; now?: () => number; input?: string },
): Promise<CliResult> {
  const stdin = new PassThrough();
  stdin.end(io.input ?? '');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const code = await run([...args], {
    stdin,
    stdout,
    stderr,
    env: io.env,
    cwd: io.cwd,
    now: io.now ?? Date.now,
  });
  return { code, out, err };
}
