/**
 * Week-over-week comparison of the weekly metrics and their plain-text rendering for the terminal
 * (`autonomy digest --preview`) and the digest post. A metric without data is "n/a", never NaN.
 */
import { localDateLabel } from '../time/zone.js';
import type { WeeklyMetrics } from './weekly.js';

/** One metric this week and last, and the change (null when either side has no value). */
export interface Change {
  readonly current: number | null;
  readonly previous: number | null;
  /** current - previous. */
  readonly delta: number | null;
  /** delta / previous, or null when previous is 0 or missing. */
  readonly relative: number | null;
  /** Whether up is good for this metric (MTTD/MTTR, tokens: down is good). */
  readonly higherIsBetter: boolean;
}

export interface WeeklyComparison {
  readonly incidents: Change;
  readonly detectedEarlyShare: Change;
  readonly mttdMedian: Change;
  readonly mttdP90: Change;
  readonly mttrMedian: Change;
  readonly mttrP90: Change;
  readonly lowRiskShare: Change;
  readonly tokensPerResolved: Change;
  readonly executorMsPerResolved: Change;
  readonly skillsPromoted: Change;
}

function change(current: number | null, previous: number | null, higherIsBetter: boolean): Change {
  const delta = current === null || previous === null ? null : current - previous;
  const relative = delta === null || previous === null || previous === 0 ? null : delta / previous;
  return { current, previous, delta, relative, higherIsBetter };
}

/** Week-over-week changes of `current` against `previous` (the week before). */
export function compare(current: WeeklyMetrics, previous: WeeklyMetrics): WeeklyComparison {
  return {
    incidents: change(current.incidents, previous.incidents, false),
    detectedEarlyShare: change(current.detectedEarlyShare, previous.detectedEarlyShare, true),
    mttdMedian: change(current.mttd.median, previous.mttd.median, false),
    mttdP90: change(current.mttd.p90, previous.mttd.p90, false),
    mttrMedian: change(current.mttr.median, previous.mttr.median, false),
    mttrP90: change(current.mttr.p90, previous.mttr.p90, false),
    lowRiskShare: change(current.lowRisk.share, previous.lowRisk.share, true),
    tokensPerResolved: change(current.tokensPerResolved, previous.tokensPerResolved, false),
    executorMsPerResolved: change(current.executorMsPerResolved, previous.executorMsPerResolved, false),
    skillsPromoted: change(current.skillsPromoted, previous.skillsPromoted, true),
  };
}

/** `1h 05m`, `4m 10s`, `850ms`; null is n/a. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return 'n/a';
  const sign = ms < 0 ? '-' : '';
  const a = Math.abs(Math.round(ms));
  if (a < 1000) return `${sign}${a}ms`;
  const s = Math.round(a / 1000);
  if (s < 60) return `${sign}${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${sign}${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${sign}${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${sign}${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

function pct(share: number | null): string {
  return share === null ? 'n/a' : `${Math.round(share * 100)}%`;
}

function num(n: number | null): string {
  return n === null ? 'n/a' : Math.round(n).toLocaleString('en-US');
}

type Kind = 'count' | 'share' | 'duration';

function show(kind: Kind, v: number | null): string {
  if (kind === 'share') return pct(v);
  if (kind === 'duration') return formatDuration(v);
  return num(v);
}

/** `(+3 vs 5, worse)`, `(-12 pp vs 40%, better)`; empty without a previous week. */
function trend(c: Change | undefined, kind: Kind): string {
  if (c === undefined) return '';
  if (c.delta === null) return c.previous === null && c.current !== null ? ' (last week n/a)' : '';
  if (c.delta === 0) return ' (unchanged)';
  const better = c.delta > 0 === c.higherIsBetter ? 'better' : 'worse';
  const plus = c.delta > 0 ? '+' : '-';
  const abs = Math.abs(c.delta);
  const d =
    kind === 'share'
      ? `${plus}${Math.round(abs * 100)} pp`
      : kind === 'duration'
        ? `${plus}${formatDuration(abs)}`
        : `${plus}${num(abs)}`;
  return ` (${d} vs ${show(kind, c.previous)}, ${better})`;
}

/** The weekly metrics as terminal text; with `previous`, each metric shows its week-over-week change. */
export function formatWeekly(metrics: WeeklyMetrics, previous?: WeeklyMetrics | null): string {
  const c = previous === undefined || previous === null ? undefined : compare(metrics, previous);
  const tz = metrics.timezone;
  const lastDay = localDateLabel(metrics.to - 1, tz);
  const lines: string[] = [];
  lines.push(`Weekly metrics ${localDateLabel(metrics.from, tz)} to ${lastDay} (${tz})`);
  lines.push('');
  const row = (label: string, value: string, t = '') => lines.push(`  ${label.padEnd(37)} ${value}${t}`);
  row('Incidents detected', num(metrics.incidents), trend(c?.incidents, 'count'));
  row(
    'Detected early (before a human)',
    `${pct(metrics.detectedEarlyShare)} (${metrics.detectedEarly} of ${metrics.incidents})`,
    trend(c?.detectedEarlyShare, 'share'),
  );
  row('MTTD median', formatDuration(metrics.mttd.median), trend(c?.mttdMedian, 'duration'));
  row('MTTD p90', formatDuration(metrics.mttd.p90), trend(c?.mttdP90, 'duration'));
  row(
    `MTTR median (${metrics.resolved} resolved)`,
    formatDuration(metrics.mttr.median),
    trend(c?.mttrMedian, 'duration'),
  );
  row('MTTR p90', formatDuration(metrics.mttr.p90), trend(c?.mttrP90, 'duration'));
  row(
    'Low-risk actions auto-resolved',
    `${pct(metrics.lowRisk.share)} (${metrics.lowRisk.autoResolved} of ${metrics.lowRisk.proposals})`,
    trend(c?.lowRiskShare, 'share'),
  );
  row(
    'Model tokens per resolved incident',
    num(metrics.tokensPerResolved),
    trend(c?.tokensPerResolved, 'count'),
  );
  row(
    'Executor time per resolved incident',
    formatDuration(metrics.executorMsPerResolved),
    trend(c?.executorMsPerResolved, 'duration'),
  );
  row('Patterns promoted into skills', num(metrics.skillsPromoted), trend(c?.skillsPromoted, 'count'));
  for (const title of metrics.skillTitles) lines.push(`    - ${title}`);
  const a = metrics.approvals;
  row('Approvals given / denied / expired', `${a.given} / ${a.denied} / ${a.expired}`);
  lines.push('');
  lines.push('Top recurring signatures');
  if (metrics.topSignatures.length === 0) lines.push('  none this week');
  for (const s of metrics.topSignatures) {
    lines.push(`  ${String(s.count).padStart(5)}x  ${s.title ?? s.fingerprint} [${s.fingerprint}]`);
  }
  lines.push('');
  lines.push('Budget use per agent (model tokens this week)');
  for (const b of metrics.budgets) {
    const of = b.budget === null ? '' : ` of ${num(b.budget)} (${pct(b.share)})`;
    lines.push(
      `  ${b.agent.padEnd(10)} ${num(b.tokens)} tokens in ${b.calls} ${b.calls === 1 ? 'call' : 'calls'}${of}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
