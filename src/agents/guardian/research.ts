/**
 * Guardian reading more about an advisory (read-only research). Only pages on guardian's domain
 * list (policy `research.domains.guardian`) are asked for; the research tools enforce the list
 * again. A page that cannot be read is skipped: research never stops the rules-based alert. Page
 * text is untrusted data: the excerpt is quoted as data in the alert, and shown to the model as one
 * fact (`page:<url>`) of guardian's turn (assess.ts).
 */
import type { Policy } from '../../policy/types.js';
import { httpUrl } from '../runtime/data-text.js';
import type { AgentContext } from '../runtime/types.js';
import { type AdvisoryFacts, osvLink } from './advisory.js';

export interface Excerpt {
  /** The page as read (the citation). */
  readonly url: string;
  readonly text: string;
}

/** Pages tried per advisory before giving up (each can take up to research.timeout). */
const MAX_TRIES = 3;
const EXCERPT_CHARS = 400;

/** true when `url`'s host is on guardian's research domain list (`*.x` also allows x's subdomains). */
export function guardianMayRead(policy: Policy, url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (policy.doc.research.domains.guardian ?? []).some((d) => {
    if (!d.startsWith('*.')) return host === d;
    const base = d.slice(2);
    return host === base || host.endsWith(`.${base}`);
  });
}

/** The advisory's pages worth reading, best first: osv.dev for its ids, its own page, its references. */
export function advisoryPages(policy: Policy, facts: AdvisoryFacts): string[] {
  const candidates = [...facts.ids.map(osvLink), facts.page, ...facts.references]
    .map(httpUrl)
    .filter((u): u is string => u !== null && guardianMayRead(policy, u));
  return [...new Set(candidates)];
}

/** About EXCERPT_CHARS of the page, starting where it talks about the advisory. */
export function excerptOf(pageText: string, facts: AdvisoryFacts): string {
  const flat = pageText.replace(/\s+/g, ' ').trim();
  if (flat === '') return '';
  const lower = flat.toLowerCase();
  const anchors = [facts.summary?.slice(0, 40), 'details', facts.ids[0]]
    .filter((a): a is string => typeof a === 'string' && a.length >= 4)
    .map((a) => a.toLowerCase());
  let start = 0;
  for (const a of anchors) {
    const at = lower.indexOf(a);
    if (at !== -1) {
      start = at;
      break;
    }
  }
  const slice = flat.slice(start, start + EXCERPT_CHARS + 1);
  if (slice.length <= EXCERPT_CHARS) return slice;
  const space = slice.lastIndexOf(' ', EXCERPT_CHARS);
  return `${slice.slice(0, space > EXCERPT_CHARS / 2 ? space : EXCERPT_CHARS)}…`;
}

/** Reads the first allowlisted advisory page that answers; [] without web_fetch or when none does. */
export async function readAdvisory(ctx: AgentContext, facts: AdvisoryFacts): Promise<Excerpt[]> {
  const research = ctx.research;
  if (research === null || !research.tools.has('web_fetch')) return [];
  for (const url of advisoryPages(ctx.policy, facts).slice(0, MAX_TRIES)) {
    if (ctx.signal.aborted) break;
    try {
      const page = await research.fetch(url, { signal: ctx.signal });
      if (page.status >= 400) continue;
      const text = excerptOf(page.text, facts);
      if (text !== '') return [{ url: page.url, text }];
    } catch (err) {
      ctx.log.info({ url, err: (err as Error).message?.slice(0, 200) }, 'advisory page not read; skipped');
    }
  }
  return [];
}
