/**
 * What an incident's card shows besides its title: the links of its source (Alertmanager's
 * `generatorURL`, `runbook_url` and dashboard annotations, the GitHub run, the advisory) and its
 * buttons. A source's URL is the sender's text: only http(s) URLs are shown, each labelled with
 * what it is and its real host (taken from the URL, never from the sender), so a link can never
 * read as something other than where it goes.
 */
import type { Button } from './message.js';

export interface CardLink {
  readonly label: string;
  readonly url: string;
}

/** How long Mute and Snooze on a card last. */
export const CARD_HOLD_MS = 3600_000;

const MAX_URL = 2000;

/** `what (host)` for an http(s) URL, or null (another scheme, not a URL, too long). */
export function plainLink(what: string, raw: unknown): CardLink | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  // Credentials in a URL (`https://good@evil`) only serve to mislead: refused.
  if (url.username !== '' || url.password !== '') return null;
  return { label: `${what} (${url.host})`.slice(0, 120), url: url.href };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The links a signal's stored payload carries, by source. */
export function sourceLinks(source: string, payload: unknown): CardLink[] {
  const p = record(payload);
  const annotations = record(p.annotations);
  const references = Array.isArray(p.references) ? p.references : [];
  const candidates: (CardLink | null)[] = [
    plainLink('Alert source', p.generatorURL),
    plainLink('Runbook', annotations.runbook_url),
    plainLink('Dashboard', annotations.dashboard ?? annotations.dashboard_url ?? annotations.grafana_url),
    plainLink(source.startsWith('github') && !('packages' in p) ? 'GitHub run' : 'Advisory', p.url),
    plainLink('Advisory', references[0]),
  ];
  const seen = new Set<string>();
  return candidates.filter((l): l is CardLink => {
    if (l === null || seen.has(l.url)) return false;
    seen.add(l.url);
    return true;
  });
}

/** The card's buttons for the incident's state: Acknowledge, Resolve, Mute 1 h (with a service), Snooze 1 h. */
export function cardButtons(
  shortId: string,
  nonce: string,
  state: { readonly status: string; readonly service: string | null },
): Button[] {
  if (state.status === 'resolved') return [];
  const b = (action: Button['action'], label: string, style: Button['style'] = 'default'): Button => ({
    action,
    label,
    style,
    target: shortId,
    nonce,
  });
  return [
    ...(state.status === 'open' ? [b('ack', 'Acknowledge', 'primary')] : []),
    b('resolve', 'Resolve'),
    ...(state.service === null ? [] : [b('mute', 'Mute service 1 h')]),
    b('snooze', 'Snooze 1 h'),
  ];
}
