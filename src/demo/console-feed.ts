/**
 * What the bot posted to its console, read through the console's JSON API (GET /api/messages with
 * the console token), so the demo can show what the agents did and wait for the approval request.
 * Only messages after a cursor taken before the first step count: a running bot's older history is
 * not the demo's.
 */
import type { Fetch } from './driver.js';

export interface FeedEntry {
  readonly seq: number;
  readonly channel: string;
  readonly kind: string;
  readonly title: string;
  readonly incident: string | null;
  readonly approval: string | null;
  readonly run: string | null;
  /** True while it carries buttons (an approval still waiting, an incident to acknowledge). */
  readonly buttons: boolean;
  /** An agent's post: written from a model's assessment, or by rules (its "Written by" field). */
  readonly writtenBy: 'model' | 'rules' | null;
}

interface RawItem {
  seq?: unknown;
  channel?: unknown;
  message?: {
    kind?: unknown;
    title?: unknown;
    refs?: { incident?: unknown; approval?: unknown; run?: unknown };
    buttons?: unknown;
    fields?: unknown;
  };
}

/** The "Written by" field agents' posts carry (src/agents/runtime/screen.ts): a model, or rules. */
function writtenBy(fields: unknown): FeedEntry['writtenBy'] {
  if (!Array.isArray(fields)) return null;
  const value = str(
    (fields as { label?: unknown; value?: unknown }[]).find((f) => f?.label === 'Written by')?.value,
  );
  if (value === null) return null;
  return value.startsWith('a model') ? 'model' : value.startsWith('rules') ? 'rules' : null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export class ConsoleFeed {
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly fetchFn: Fetch = fetch,
  ) {}

  private async get(after: number): Promise<{ entries: FeedEntry[]; cursor: number } | null> {
    let res: Response;
    try {
      res = await this.fetchFn(`${this.url}/api/messages?after=${after}`, {
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      return null;
    }
    if (!res.ok) return null;
    const body = (await res.json()) as { messages?: RawItem[]; cursor?: unknown };
    const entries = (body.messages ?? []).map((item) => {
      const m = item.message ?? {};
      return {
        seq: Number(item.seq ?? 0),
        channel: str(item.channel) ?? '',
        kind: str(m.kind) ?? 'message',
        title: str(m.title) ?? '',
        incident: str(m.refs?.incident),
        approval: str(m.refs?.approval),
        run: str(m.refs?.run),
        buttons: Array.isArray(m.buttons) && m.buttons.length > 0,
        writtenBy: writtenBy(m.fields),
      };
    });
    return { entries, cursor: Number(body.cursor ?? after) };
  }

  /** The feed's cursor now, or null when the console cannot be read (off, or another token). */
  async cursor(): Promise<number | null> {
    return (await this.get(0))?.cursor ?? null;
  }

  /** Messages posted or changed after `after`, oldest first; null when the console cannot be read. */
  async since(after: number): Promise<FeedEntry[] | null> {
    const got = await this.get(after);
    return got === null ? null : got.entries.sort((a, b) => a.seq - b.seq);
  }
}

export interface WaitOptions {
  /** Give up after this long. */
  readonly waitMs: number;
  /** Once an approval request is there, stop when nothing new came for this long. */
  readonly quietMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls the feed until an approval request has appeared and the feed has gone quiet, or `waitMs`
 * passed. Returns the messages since `after` (empty when the console cannot be read).
 */
export async function waitForReactions(
  feed: ConsoleFeed,
  after: number,
  o: WaitOptions,
): Promise<FeedEntry[]> {
  const now = o.now ?? Date.now;
  const pause = o.sleep ?? sleep;
  const quietMs = o.quietMs ?? 2000;
  const deadline = now() + o.waitMs;
  let entries: FeedEntry[] = [];
  let lastChange = now();
  for (;;) {
    const got = (await feed.since(after)) ?? entries;
    if (got.length !== entries.length || got.some((e, i) => e.seq !== entries[i]?.seq)) lastChange = now();
    entries = got;
    const asked = entries.some((e) => e.kind === 'approval' && e.approval !== null);
    if (asked && now() - lastChange >= quietMs) return entries;
    if (now() >= deadline) return entries;
    await pause(Math.min(o.pollMs ?? 250, Math.max(0, deadline - now())));
  }
}
