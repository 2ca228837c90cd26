/**
 * Guardian's follow-up to an advisory incident: the bot has already posted one alert per incident
 * (chat/incident-alerts.ts), so this finding adds what an on-call engineer needs to act: the ids,
 * the severity and how it was scored, which installed package versions are affected and where
 * they came from, the versions that fix it, an excerpt of the advisory page if one was read, and
 * links (osv.dev for each id, the advisory's own page, its references; http(s) only). Rules only.
 */
import { cut } from '../../signals/normalise/common.js';
import { httpUrl, quoted } from '../runtime/data-text.js';
import type { AgentSignal, Finding } from '../runtime/types.js';
import { type AdvisoryFacts, type AdvisoryPackage, osvLink, packageLabel } from './advisory.js';
import type { Excerpt } from './research.js';

const MAX_LINKS = 8;
const MAX_LISTED = 10;

function fixOf(p: AdvisoryPackage): string {
  if (p.upgradeTo) return `upgrade to ${p.upgradeTo}`;
  if (p.fixed.length > 0) return `fixed in ${p.fixed.join(', ')}`;
  return 'no fixed version known';
}

function whereOf(p: AdvisoryPackage): string {
  if (p.where.length === 0) return '';
  const files = p.where.slice(0, 5).map((w) => `${w.file}${w.dev ? ' (dev)' : ''}`);
  return ` in ${files.join(', ')}${p.where.length > 5 ? `, +${p.where.length - 5} more` : ''}`;
}

function linksOf(facts: AdvisoryFacts): { label: string; url: string }[] {
  const links: { label: string; url: string }[] = [];
  const seen = new Set<string>();
  const add = (label: string, raw: string | null): void => {
    const url = httpUrl(raw);
    if (url === null || seen.has(url) || links.length >= MAX_LINKS) return;
    seen.add(url);
    links.push({ label: cut(label, 120), url });
  };
  for (const id of facts.ids) add(`OSV ${id}`, osvLink(id));
  add('Advisory', facts.page);
  for (const ref of facts.references) add('Reference', ref);
  return links;
}

/** The alert guardian posts for one advisory signal. */
export function advisoryFinding(
  signal: AgentSignal,
  facts: AdvisoryFacts,
  excerpts: readonly Excerpt[],
): Finding {
  const id = facts.ids[0] ?? 'advisory';
  const incident = signal.incident?.shortId ?? null;
  const packages = facts.packages.slice(0, MAX_LISTED);
  const first = packages[0];
  const headline = first ? `${packageLabel(first)}, ${fixOf(first)}` : 'no package named';
  const more = facts.packages.length > 1 ? ` (+${facts.packages.length - 1} more)` : '';
  const severity = `${signal.severity}${facts.basis ? ` (${facts.basis})` : facts.score !== null ? ` (CVSS ${facts.score.toFixed(1)})` : ''}`;

  const lines: string[] = [];
  if (incident) lines.push(`Follow-up to incident ${incident}.`);
  lines.push(
    `${facts.ids.join(' / ') || 'An advisory'}: ${facts.summary ? quoted(facts.summary, 1000) : '(no summary)'}`,
  );
  lines.push(`Severity: ${severity}`);
  for (const p of packages) lines.push(`Affected: ${packageLabel(p)}${whereOf(p)}; ${fixOf(p)}`);
  if (facts.packages.length > packages.length) {
    lines.push(`… and ${facts.packages.length - packages.length} more packages`);
  }
  for (const e of excerpts) lines.push('', `From ${e.url}:`, quoted(e.text, 600));

  const fields: { label: string; value: string }[] = [];
  if (incident) fields.push({ label: 'Incident', value: incident });
  fields.push({ label: 'Advisory', value: cut(facts.ids.join(', ') || '(no id)', 2000) });
  fields.push({ label: 'Severity', value: severity });
  fields.push({
    label: 'Affected',
    value: cut(
      packages.map((p) => `${packageLabel(p)}${whereOf(p)}`).join('\n') || '(no package named)',
      2000,
    ),
  });
  const fixed = [...new Set(packages.flatMap((p) => p.fixed))];
  fields.push({ label: 'Fixed versions', value: cut(fixed.join(', ') || 'none known', 2000) });
  if (facts.repository) fields.push({ label: 'Repository', value: cut(facts.repository, 300) });

  return {
    kind: 'alert',
    title: cut(`${id}: ${headline}${more}`, 300),
    severity: signal.severity,
    body: lines.join('\n'),
    fields,
    links: linksOf(facts),
    ...(excerpts.length > 0 ? { citations: excerpts.map((e) => e.url) } : {}),
  };
}
