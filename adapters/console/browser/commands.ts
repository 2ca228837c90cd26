/**
 * The command box: `/autonomy <verb>` (with or without the prefix) goes to POST /api/commands in the
 * chosen channel (or the console's default); the last five replies show above the feed. Up and Down
 * recall earlier commands.
 */
import type { ChatMessage } from '../../../src/chat/message.js';
import { api, type ReplyAnswer } from './api.js';
import { byId, el } from './dom.js';
import { channelFilter, type Feed } from './feed.js';
import { renderMessage } from './render.js';

const DEFAULT_CHANNEL = 'console:main';
const REPLIES_KEPT = 5;

function showReply(text: string, reply: ChatMessage | string): void {
  const box = byId('replies');
  if (!box) return;
  const wrap = el('div', 'reply');
  wrap.appendChild(el('p', 'echo', `\u203a /autonomy ${text}`));
  if (typeof reply === 'string') wrap.appendChild(el('p', 'status error', reply));
  else {
    const art = renderMessage(reply, null, { fold: false });
    art.classList.add('bare');
    wrap.appendChild(art);
  }
  box.insertBefore(wrap, box.firstChild);
  while (box.children.length > REPLIES_KEPT && box.lastChild) box.removeChild(box.lastChild);
}

export function setupCommands(feed: Feed): void {
  const form = byId<HTMLFormElement>('command-form');
  const input = byId<HTMLInputElement>('command');
  const sel = byId<HTMLSelectElement>('channel');
  if (!form || !input || !sel) return;
  const history: string[] = [];
  let historyAt = 0;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim().replace(/^\/autonomy(\s+|$)/i, '');
    if (!text) {
      input.focus();
      return;
    }
    history.push(text);
    historyAt = history.length;
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    api<ReplyAnswer>('POST', '/api/commands', { text, channel: channelFilter() || DEFAULT_CHANNEL })
      .then(
        (data) => {
          showReply(text, data.reply);
          input.value = '';
        },
        (err: Error) => showReply(text, err.message),
      )
      .then(() => {
        if (button) button.disabled = false;
        input.focus();
      });
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowUp' && historyAt > 0) {
      historyAt--;
      input.value = history[historyAt] ?? '';
      e.preventDefault();
    }
    if (e.key === 'ArrowDown' && historyAt < history.length) {
      historyAt++;
      input.value = history[historyAt] ?? '';
      e.preventDefault();
    }
  });
  sel.addEventListener('change', () => feed.filter(sel.value));
}
