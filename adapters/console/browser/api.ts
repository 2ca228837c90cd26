/**
 * The console's JSON API, same origin, session cookie. A 401 means the session ended: the page
 * says so once and stops its live updates (`onSignedOut`).
 */

import type { ChatMessage } from '../../../src/chat/message.js';
import type { FeedItem } from '../console-adapter.js';

let signedOutHandler: () => void = () => {};
let signedOut = false;

export function onSignedOut(handler: () => void): void {
  signedOutHandler = handler;
}

export function isSignedOut(): boolean {
  return signedOut;
}

export interface MessagesAnswer {
  readonly messages: FeedItem[];
}
export interface MessageAnswer {
  readonly message: FeedItem;
}
export interface ReplyAnswer {
  readonly reply: ChatMessage;
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = (await res.json().catch(() => null)) as (T & { error?: string }) | null;
  if (res.status === 401) {
    if (!signedOut) {
      signedOut = true;
      signedOutHandler();
    }
    throw new Error('signed out');
  }
  if (!res.ok) throw new Error(data?.error || `the bot answered HTTP ${res.status}`);
  return data as T;
}
