/**
 * Live updates: server-sent events from /api/stream; while the stream is down the page polls
 * /api/messages?after=<cursor> every `pollMs` and says so, and a closed stream is retried every 15 s.
 * A catch-up after each (re)connect fetches what happened in between. A 401 ends it all: the page
 * says the session ended and how to sign in again.
 */
import type { FeedEvent } from '../console-adapter.js';
import { api, isSignedOut, type MessagesAnswer, onSignedOut } from './api.js';
import { byId, el } from './dom.js';
import type { Feed } from './feed.js';

const RECONNECT_MS = 15_000;

export function setConn(text: string, cls: string): void {
  const c = byId('conn');
  if (!c) return;
  c.textContent = text;
  c.className = `conn ${cls}`;
}

export class Live {
  #source: EventSource | null = null;
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly feed: Feed,
    private readonly pollMs: number,
  ) {
    onSignedOut(() => this.#signedOut());
  }

  #signedOut(): void {
    this.#source?.close();
    this.#stopPolling();
    clearTimeout(this.#reconnectTimer);
    setConn('signed out', 'down');
    const main = byId('main');
    if (!main) return;
    main.textContent = '';
    const box = el('section', 'notice');
    box.setAttribute('role', 'alert');
    box.appendChild(el('h1', null, 'Your console session has ended'));
    box.appendChild(
      el(
        'p',
        null,
        'Open the console URL that autonomy printed at start (it carries the token), ' +
          'or pass the token as Authorization: Bearer <token>. The token is in AUTONOMY_CONSOLE_TOKEN or in the ' +
          'console-token file in the data folder.',
      ),
    );
    main.appendChild(box);
  }

  catchUp(): Promise<void> {
    if (isSignedOut()) return Promise.resolve();
    return api<MessagesAnswer>('GET', `/api/messages?after=${this.feed.cursor}`).then(
      (data) => {
        for (const item of data.messages) this.feed.upsert(item);
      },
      () => {},
    );
  }

  #startPolling(): void {
    if (this.#pollTimer || isSignedOut()) return;
    setConn(`live updates interrupted: checking every ${Math.round(this.pollMs / 1000)} s`, 'polling');
    this.#pollTimer = setInterval(() => void this.catchUp(), this.pollMs);
    void this.catchUp();
  }

  #stopPolling(): void {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }

  connect(): void {
    if (isSignedOut() || typeof EventSource === 'undefined') {
      this.#startPolling();
      return;
    }
    const source = new EventSource('/api/stream');
    this.#source = source;
    source.addEventListener('open', () => {
      this.#stopPolling();
      setConn('live', 'live');
      void this.catchUp();
    });
    source.addEventListener('message', (e: MessageEvent<string>) => {
      let ev: Partial<FeedEvent> | null;
      try {
        ev = JSON.parse(e.data) as Partial<FeedEvent> | null;
      } catch {
        return;
      }
      if (ev?.item) this.feed.upsert(ev.item);
    });
    source.addEventListener('error', () => {
      this.#startPolling();
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(this.#reconnectTimer);
        this.#reconnectTimer = setTimeout(() => this.connect(), RECONNECT_MS);
      }
    });
  }
}
