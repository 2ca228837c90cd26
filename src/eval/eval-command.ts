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
import type { AgentName } from '../policy/vocabulary.js';
import { EvalFailure, runEval } from './run-eval.js';
import { catalogIssues, loadScenarios } from './scenario.js';
import { formatScorecard, scorecard } from './scorecard.js';

export interface EvalCommand {
  readonly scenariosDir: string;
  readonly policy: Policy;
  readonly models: readonly string[];
  /** Only these agents' scenarios (empty: all). */
  readonly agents?: readonly AgentName[];
  readonly host?: string;
  readonly defaultHost: string;
  readonly client: ModelClient;
  readonly env: Env;
  readonly json: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/**
 * Throws an EvalFailure saying what to fix: bad scenarios or no model server (nothing run), or a
 * model that answered no scenario at all (after its scorecard is printed).
 */
export async function evalCommand(c: EvalCommand): Promise<void> {
  const loaded = await loadScenarios(c.scenariosDir);
  if (!loaded.ok) {
    throw new EvalFailure(
      [
        ...loaded.issues.map(formatIssue),
        `${loaded.issues.length} error(s) in the scenarios; nothing was run`,
      ].join('\n'),
      { code: 'EVAL_SCENARIOS_INVALID' },
    );
  }
  const agents = c.agents ?? [];
  const scenarios = loaded.scenarios.filter((s) => agents.length === 0 || agents.includes(s.agent));
  if (scenarios.length === 0)
    throw new EvalFailure(`no scenario in ${c.scenariosDir} is for ${agents.join(' or ')}; nothing was run`, {
      code: 'EVAL_SCENARIOS_INVALID',
    });
  for (const line of catalogIssues(scenarios, c.policy)) c.err(`warning: ${line}`);
  const runs = await runEval({
    policy: c.policy,
    scenarios,
    models: c.models,
    ...(c.host === undefined ? {} : { host: c.host }),
    defaultHost: c.defaultHost,
    client: c.client,
    env: c.env,
    progress: c.err,
  });
  const cards = runs.map(scorecard);
  const silent = cards.filter((card) => card.byModel === 0 && card.scenarios > 0);
  const verdict =
    silent.length === 0
      ? null
      : silent
          .map((card) => {
            const [reason, first] = Object.entries(card.rulesWhy)[0] ?? ['rules', { first: '' }];
            const hint =
              reason === 'unavailable'
                ? `; is it pulled (\`ollama pull ${card.model}\`), and does it answer within the policy's models.timeout?`
                : '';
            return `${card.model} answered none of the ${card.scenarios} scenarios (${reason}: ${first.first})${hint}`;
          })
          .join('\n');
  if (c.json) {
    c.out(
      JSON.stringify(
        {
          policy: c.policy.source,
          scenarios: scenarios.length,
          models: runs.map((r, i) => ({ scorecard: cards[i], results: r.results })),
        },
        null,
        2,
      ),
    );
  } else c.out(cards.map(formatScorecard).join('\n\n'));
  if (verdict !== null) throw new EvalFailure(verdict, { code: 'EVAL_NO_ANSWERS' });
}
