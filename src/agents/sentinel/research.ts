/**
 * Sentinel's one research step: when an alert names the status page of a dependency (annotation
 * `status_page`) and the policy gives sentinel `web_fetch`, read that page and keep one line of it
 * (the line that states a status, else its title) with the page as the citation. The research
 * tools enforce the domain allowlist; any failure (not allowlisted, unreachable, aborted) means no
 * excerpt, and the triage goes on by rules.
 */
import { oneLine, quoted } from '../runtime/data-text.js';
import type { AgentLog, ResearchTools } from '../runtime/types.js';

export interface StatusExcerpt {
  /** The page read (its citation). */
  readonly url: string;
  /** One line of it, quoted and cut. */
  readonly excerpt: string;
}

const STATUS_WORDS =
  /\b(operational|degraded|outage|disruption|incident|investigating|identified|monitoring|resolved|maintenance|partial|major)\b/i;
const MAX_LINES = 400;

/** The line of a status page that says how things are, else null. */
function statusLine(text: string): string | null {
  const lines = text.split('\n', MAX_LINES);
  for (const line of lines) {
    const l = oneLine(line, 300);
    if (l.length >= 4 && STATUS_WORDS.test(l)) return l;
  }
  return null;
}

export async function readStatusPage(
  research: ResearchTools | null,
  url: string | null,
  signal: AbortSignal,
  log: AgentLog,
): Promise<StatusExcerpt | null> {
  if (research === null || url === null || !research.tools.has('web_fetch') || signal.aborted) return null;
  try {
    const page = await research.fetch(url, { signal });
    if (page.status < 200 || page.status >= 300) return null;
    const line = statusLine(page.text) ?? page.title;
    if (line === null || oneLine(line) === '') return null;
    return { url: page.url, excerpt: quoted(line, 200) };
  } catch (err) {
    // The code or name only: a message may echo the URL, and a URL may carry a token.
    const e = err as { code?: unknown; name?: unknown } | null;
    const reason = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'error';
    log.info({ reason }, 'status page not read; triage goes on by rules');
    return null;
  }
}
