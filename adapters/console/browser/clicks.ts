/**
 * A button click goes to the bot (POST /api/clicks), which authorises and decides it; the page
 * only shows the answer. Deny asks for an optional reason first, in a small form.
 */
import type { Button } from '../../../src/chat/message.js';
import type { FeedItem } from '../console-adapter.js';
import { api, type ReplyAnswer } from './api.js';
import { el, nextId } from './dom.js';
import { setBusy, setStatus } from './render.js';

/** The article now shown for a message id (the feed replaces it on each update). */
type Current = (id: string) => HTMLElement | null;

function sendClick(current: Current, art: HTMLElement, item: FeedItem, b: Button, reason?: string): void {
  const body: Record<string, unknown> = {
    target: b.target,
    action: b.action,
    nonce: b.nonce,
    channel: item.channel,
  };
  if (b.hours) body.hours = b.hours;
  if (reason) body.reason = reason;
  setBusy(art, true);
  setStatus(art, `Sending ${b.label}\u2026`);
  api<ReplyAnswer>('POST', '/api/clicks', body).then(
    (data) => {
      const cur = current(item.id) || art;
      const r = data.reply;
      setStatus(cur, r.title + (r.body ? `\n${r.body}` : ''));
      setBusy(cur, false);
    },
    (err: Error) => {
      const cur = current(item.id) || art;
      setStatus(cur, err.message, true);
      setBusy(cur, false);
    },
  );
}

function askReason(
  current: Current,
  art: HTMLElement,
  item: FeedItem,
  b: Button,
  btn: HTMLButtonElement,
): void {
  const open = art.querySelector('.reason-form');
  if (open) {
    open.querySelector('input')?.focus();
    return;
  }
  const form = el('form', 'reason-form');
  const id = nextId('reason');
  const label = el('label', null, 'Reason for denying (optional)');
  label.htmlFor = id;
  const input = el('input');
  input.type = 'text';
  input.id = id;
  input.maxLength = 500;
  const ok = el('button', 'danger', 'Deny');
  ok.type = 'submit';
  const cancel = el('button', null, 'Cancel');
  cancel.type = 'button';
  const close = (): void => {
    form.remove();
    btn.focus();
  };
  cancel.addEventListener('click', close);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') close();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const reason = input.value.trim();
    form.remove();
    sendClick(current, art, item, b, reason);
  });
  form.append(label, input, ok, cancel);
  art.querySelector('.actions')?.after(form);
  input.focus();
}

/** The click handler of every rendered button. */
export function clickHandler(
  current: Current,
): (art: HTMLElement, item: FeedItem, b: Button, btn: HTMLButtonElement) => void {
  return (art, item, b, btn) => {
    if (b.action === 'deny') askReason(current, art, item, b, btn);
    else sendClick(current, art, item, b);
  };
}
