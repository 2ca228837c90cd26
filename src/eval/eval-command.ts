/**
 * `autonomy eval` as the CLI calls it: load the scenario set (every problem named by file, line
 * and path; nothing runs on a bad set), say which scenario actions the policy's catalog lacks,
 * run the set per model (run-eval.ts) with progress on stderr, and print a scorecard per model,
 * or, with `json`, one JSON document with each scorecard and every scenario's result.
 */

import type { Env } from '../agents/runtime/secrets.js';
import type { ModelClient } from '../llm/types.js';
import { formatIssue } from '../policy/errors.js';
import type { Policy } from '../policy/types.js';
import { EvalFailure, runEval } from './run-eval.js';
import { catalogIssues, loadScenarios } from './scenario.js';
import { formatScorecard, scorecard } from './scorecard.js';

export interface EvalCommand {
  readonly scenariosDir: string;
  readonly policy: Policy;
  readonly models: readonly string[];
  readonly host?: string;
  readonly defaultHost: string;
  readonly client: ModelClient;
  readonly env: Env;
  readonly json: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Throws an EvalFailure (bad scenarios, no model server) saying what to fix. */
export async function evalCommand(c: EvalCommand): Promise<void> {
  const loaded = await loadScenarios(c.scenariosDir);
  if (!loaded.ok) {
    throw new EvalFailure(
      [
        ...loaded.issues.map(formatIssue),
        `${loaded.issues.length} error(s) in the scenarios; nothing was run`,
      ].join('\n'),
    );
  }
  for (const line of catalogIssues(loaded.scenarios, c.policy)) c.err(`warning: ${line}`);
  const runs = await runEval({
    policy: c.policy,
    scenarios: loaded.scenarios,
    models: c.models,
    ...(c.host === undefined ? {} : { host: c.host }),
    defaultHost: c.defaultHost,
    client: c.client,
    env: c.env,
    progress: c.err,
  });
  if (c.json) {
    c.out(
      JSON.stringify(
        {
          policy: c.policy.source,
          scenarios: loaded.scenarios.length,
          models: runs.map((r) => ({ scorecard: scorecard(r), results: r.results })),
        },
        null,
        2,
      ),
    );
    return;
  }
  c.out(runs.map((r) => formatScorecard(scorecard(r))).join('\n\n'));
}
