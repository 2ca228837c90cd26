/**
 * Guardian's turns (runtime/turn.ts).
 *
 * On an advisory: the facts are the advisory (ids, summary, severity and how it was scored), each
 * affected package (package@version, where it is installed and whether only as a development
 * dependency, the versions that fix it), the advisory page excerpt when one was read, the incident,
 * and past incidents like it with how they ended. The model judges whether the vulnerable package
 * is really used here and how badly it hurts us, citing those facts, and proposes the remediation
 * actions of guardian's catalog. By rules: no judgement, and `advisoryProposals()` (the floor).
 *
 * In the deep sweep: the facts are the drift reported this sweep (which watched file, its baseline
 * and current hash and size, or why it cannot be read; never the file's content, which may hold
 * secrets). The model judges whether it matters and may propose guardian's checks or remediations.
 * By rules: nothing more than the drift alerts and the sweep's config checks (the floor).
 */
import { cut } from '../../signals/normalise/common.js';
import type { Assessment } from '../runtime/assessment.js';
import { duration, isoSecond, oneLine, quoted } from '../runtime/data-text.js';
import { type Fact, fact, signalHistoryFacts } from '../runtime/facts.js';
import { type TurnResult, takeTurn } from '../runtime/turn.js';
import type { AgentContext, AgentProposal, AgentSignal } from '../runtime/types.js';
import { type AdvisoryFacts, type AdvisoryPackage, packageLabel } from './advisory.js';
import type { DriftChange } from './drift.js';
import type { Excerpt } from './research.js';

export const TASK =
  'Judge one security advisory for the on-call engineer: is the vulnerable package really used here (where it is installed, in production or only for development) and how badly it hurts us, and which remediation from your actions to propose, from the facts only. The summary says how exposed we are; the cause says why, citing the facts.';

export const DRIFT_TASK =
  'Judge the drift your deep sweep found in watched files (you see which file, its hashes and sizes, not its content): does it matter for security, and which of your checks or remediations to propose, from the facts only. The cause says why it matters or not, citing the facts.';

/** Packages of one advisory shown to the model at most (one advisory can list many). */
const MAX_PACKAGES = 10;
/** Drifted files shown to the model at most. */
const MAX_CHANGES = 20;

function packageText(p: AdvisoryPackage): string {
  const where =
    p.where.length === 0
      ? 'where it is installed is not known'
      : `installed in ${p.where
          .slice(0, 5)
          .map(
            (w) =>
              `${oneLine(w.file, 200)}${w.dev ? ' (development dependency only)' : ' (production dependency)'}`,
          )
          .join(', ')}${p.where.length > 5 ? `, +${p.where.length - 5} more` : ''}`;
  const fix = p.upgradeTo
    ? `upgrade to ${p.upgradeTo} (fixed in ${p.fixed.join(', ') || p.upgradeTo})`
    : p.fixed.length > 0
      ? `fixed in ${p.fixed.join(', ')}`
      : 'no fixed version known';
  const version = p.version ? '' : ' (vulnerable range; the installed version is not given)';
  return `Affected package ${oneLine(packageLabel(p), 300)}${p.ecosystem ? ` (${oneLine(p.ecosystem, 40)})` : ''}${version}: ${where}; ${fix}.`;
}

/** Most important first: the advisory, its packages, the page read, the incident, then history. */
export function advisoryTurnFacts(
  ctx: AgentContext,
  signal: AgentSignal,
  advisory: AdvisoryFacts,
  excerpts: readonly Excerpt[],
): Fact[] {
  const scored = advisory.basis ?? (advisory.score === null ? null : `CVSS ${advisory.score.toFixed(1)}`);
  const facts: Fact[] = [
    fact(
      `signal:${signal.id}`,
      [
        `Advisory ${advisory.ids.map((id) => oneLine(id, 100)).join(' / ') || '(no id)'}: ${advisory.summary ? quoted(advisory.summary, 600) : '(no summary)'}.`,
        `Severity ${signal.severity}${scored ? ` (${oneLine(scored, 60)})` : ''}.`,
        advisory.repository ? `Repository: ${oneLine(advisory.repository, 200)}.` : '',
        advisory.details ? `Details: ${quoted(advisory.details, 600)}` : '',
      ]
        .filter(Boolean)
        .join(' '),
    ),
  ];
  for (const p of advisory.packages.slice(0, MAX_PACKAGES)) {
    facts.push(fact(`package:${cut(packageLabel(p), 200)}`, packageText(p)));
  }
  for (const e of excerpts) facts.push(fact(`page:${e.url}`, `Advisory page (read just now): ${e.text}`));
  if (signal.incident !== null) {
    const i = signal.incident;
    facts.push(
      fact(`incident:${i.shortId}`, `Incident ${i.shortId} ${i.change}, ${i.signalCount} signal(s).`),
    );
  }
  facts.push(...signalHistoryFacts(ctx, signal));
  return facts;
}

export async function advisoryTurn(
  ctx: AgentContext,
  o: {
    signal: AgentSignal;
    advisory: AdvisoryFacts;
    excerpts: readonly Excerpt[];
    rules: readonly AgentProposal[];
  },
): Promise<TurnResult> {
  const first = o.advisory.packages[0];
  const rules = (): Assessment => ({
    summary: `${o.advisory.ids[0] ?? 'An advisory'} affects ${first ? packageLabel(first) : 'no named package'}.`,
    cause: null,
    confidence: 0,
    proposals: o.rules,
  });
  return takeTurn(ctx, {
    task: TASK,
    facts: advisoryTurnFacts(ctx, o.signal, o.advisory, o.excerpts),
    rules,
    severity: o.signal.severity,
  });
}

function changeText(c: DriftChange, now: number): string {
  const base =
    c.baseline === null
      ? 'no baseline was recorded for it'
      : `baseline recorded ${isoSecond(c.baseline.at)} (${duration(now - c.baseline.at)} ago): sha256 ${c.baseline.sha256}, ${c.baseline.size} bytes`;
  if (!c.now.ok)
    return `Watched file ${oneLine(c.file, 300)} (${oneLine(c.path, 300)}) ${oneLine(c.now.reason, 200)}; ${base}.`;
  const delta =
    c.baseline === null
      ? ''
      : ` (${c.now.size - c.baseline.size >= 0 ? '+' : ''}${c.now.size - c.baseline.size} bytes)`;
  return `Watched file ${oneLine(c.file, 300)} (${oneLine(c.path, 300)}) changed: ${base}; now sha256 ${c.now.sha256}, ${c.now.size} bytes${delta}.`;
}

/** The drift alerted this sweep, one fact per file (`file:<path>`, the id the alert cites), and what is watched. */
export function driftFacts(changes: readonly DriftChange[], watched: readonly string[], now: number): Fact[] {
  const facts = changes.slice(0, MAX_CHANGES).map((c) => fact(`file:${c.path}`, changeText(c, now)));
  facts.push(
    fact(
      'drift:watch',
      `Guardian watches ${watched.length} file(s) for drift: ${watched
        .slice(0, 30)
        .map((f) => oneLine(f, 200))
        .join(', ')}; ${changes.length} changed or unreadable this sweep.`,
    ),
  );
  return facts;
}

/** The deep sweep's drift turn; null when nothing drifted (the model is not asked about nothing). */
export async function driftTurn(
  ctx: AgentContext,
  o: { changes: readonly DriftChange[]; watched: readonly string[]; rules: readonly AgentProposal[] },
): Promise<TurnResult | null> {
  if (o.changes.length === 0) return null;
  return takeTurn(ctx, {
    task: DRIFT_TASK,
    facts: driftFacts(o.changes, o.watched, ctx.now()),
    rules: () => ({
      summary: `${o.changes.length} watched file(s) drifted.`,
      cause: null,
      confidence: 0,
      proposals: o.rules,
    }),
    severity: 'warning',
  });
}
