/**
 * Builder's turn (runtime/turn.ts), in its deep sweep: the facts are its maintenance catalog
 * candidates (what each needs, how its recent runs went), its own recent action runs with their
 * params and outcomes, recent CI failures and job or deploy events, and recent incidents of
 * in-scope services. The model picks the maintenance to do (its own `maintenance` actions only,
 * less those the policy's checks already run) with the params it needs, and writes the text of
 * the change it proposes (each proposal's why) and why now (the cause, citing facts). The floor
 * by rules is the pre-approved maintenance that needs no input (`maintenanceProposals`).
 */
import type { CompiledAction } from '../../policy/types.js';
import { duration, oneLine, quoted } from '../runtime/data-text.js';
import { type Fact, fact } from '../runtime/facts.js';
import type { RecentReader } from '../runtime/recent.js';
import { type TurnResult, takeTurn } from '../runtime/turn.js';
import type { AgentContext, AgentProposal } from '../runtime/types.js';

export const TASK =
  'Plan the maintenance to do now, from the facts only: pick from your maintenance actions below the ones worth running (with the params they need), and for each write in "why" the change it makes and why it is needed now. In "cause", say what in the facts calls for it, citing their ids. Propose nothing when nothing calls for maintenance.';

/** How far back the facts look. */
export const LOOKBACK_MS = 7 * 24 * 3_600_000;
/** Rows of each kind read (before the scope filter) and facts of each kind kept. */
const READ = 30;
const KEEP = 8;

/** The maintenance actions the model may pick: builder's own, not already run by the policy's checks. */
export function candidates(ctx: Pick<AgentContext, 'policy'>): CompiledAction[] {
  const checked = new Set(ctx.policy.doc.checks.map((c) => c.action));
  return [...ctx.policy.actions.values()].filter(
    (a) => a.agent === 'builder' && a.class === 'maintenance' && !checked.has(a.id),
  );
}

function paramsText(params: Readonly<Record<string, unknown>> | null): string {
  if (params === null) return '(params not recorded)';
  const entries = Object.entries(params);
  return entries.length === 0 ? '(no params)' : entries.map(([k, v]) => quoted(`${k}=${v}`, 120)).join(' ');
}

/** A service the policy's scope takes (a signal or incident with none is about no one service: kept). */
function inScope(ctx: Pick<AgentContext, 'policy'>, service: string | null): boolean {
  return service === null || ctx.policy.scope.check(service) === null;
}

export function builderFacts(
  ctx: Pick<AgentContext, 'policy' | 'now'> & { readonly recent?: RecentReader },
  offered: readonly CompiledAction[],
  noInput: ReadonlySet<string>,
): Fact[] {
  const now = ctx.now();
  const since = now - LOOKBACK_MS;
  const ago = (t: number) => `${duration(now - t)} ago`;
  const recent = ctx.recent;
  const runs = recent?.runs({ agent: 'builder', since, limit: READ }) ?? [];
  const facts: Fact[] = [];
  for (const a of offered) {
    const mine = runs.filter((r) => r.actionId === a.id);
    const last = mine[0];
    facts.push(
      fact(
        `maintenance:${a.id}`,
        `Maintenance ${a.id}: ${oneLine(a.doc.description, 200)}. ${noInput.has(a.id) ? 'Needs no input.' : 'Needs params (see the action list).'} ${
          last === undefined
            ? 'Not run in the last 7 d.'
            : `Ran ${mine.length}× in the last 7 d; last ${ago(last.startedAt)}: ${last.status}.`
        }`,
      ),
    );
  }
  for (const r of runs.slice(0, KEEP)) {
    facts.push(
      fact(
        `run:${r.id}`,
        `builder ran ${r.actionId} ${paramsText(r.params)} ${ago(r.startedAt)}: ${r.status}${r.outcome ? ` (${quoted(r.outcome, 300)})` : ''}.`,
      ),
    );
  }
  const signals = (recent?.signals({ kinds: ['failed_job', 'event'], since, limit: READ }) ?? [])
    .filter((s) => inScope(ctx, s.service))
    .slice(0, KEEP);
  for (const s of signals) {
    const what = s.kind === 'failed_job' ? 'CI or job failure' : 'Event';
    facts.push(
      fact(
        `signal:${s.id}`,
        `${what} from ${quoted(s.source, 80)} on ${s.service === null ? 'no named service' : quoted(s.service, 80)} (${s.severity}) ${ago(s.receivedAt)}: ${quoted(s.title ?? '(no title)', 300)}.`,
      ),
    );
  }
  const incidents = (recent?.incidents({ since, limit: READ }) ?? [])
    .filter((i) => inScope(ctx, i.service))
    .slice(0, KEEP);
  for (const i of incidents) {
    const ended =
      i.resolvedAt === null
        ? `still ${i.status}`
        : `resolved after ${duration(i.resolvedAt - i.startedAt)}${i.resolvedBy ? ` by ${quoted(i.resolvedBy, 80)}` : ''}`;
    facts.push(
      fact(
        `incident:${i.shortId}`,
        `Incident ${i.shortId} ${quoted(i.title, 200)} on ${i.service === null ? 'no named service' : quoted(i.service, 80)} (${i.severity}), started ${ago(i.startedAt)}; ${ended}.`,
      ),
    );
  }
  return facts;
}

/**
 * The deep sweep's turn. `rules` are the floor's proposals. No maintenance action to pick from:
 * no model call (nothing to ask).
 */
export async function builderTurn(ctx: AgentContext, rules: readonly AgentProposal[]): Promise<TurnResult> {
  const offered = candidates(ctx);
  const assessment = () => ({
    summary: 'Pre-approved maintenance that needs no input, by rules.',
    cause: null,
    confidence: 0,
    proposals: rules,
  });
  if (offered.length === 0) {
    return {
      assessment: assessment(),
      by: 'rules',
      model: null,
      why: 'no maintenance action to pick from',
      refused: [],
      shown: [],
    };
  }
  const checked = ctx.policy.doc.checks.map((c) => c.action);
  return takeTurn(ctx, {
    task: TASK,
    facts: builderFacts(ctx, offered, new Set(rules.map((p) => p.actionId))),
    rules: assessment,
    classes: ['maintenance'],
    exclude: checked,
  });
}
