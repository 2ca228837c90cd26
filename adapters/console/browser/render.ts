/**
 * One chat message as an <article>. Message text is untrusted data: it reaches the page only through
 * textContent and DOM properties, never innerHTML. Links are shown only for http(s) URLs, always
 * with their host, so a label (from a model or a sender) never hides where a link goes.
 */
import type { Button, ChatMessage } from '../../../src/chat/message.js';
import type { FeedItem } from '../console-adapter.js';
import { el, nextId, safeUrl, token, when } from './dom.js';

const KINDS: Record<string, string> = {
  alert: 'alert',
  suggestion: 'suggestion',
  approval: 'approval',
  decision: 'decision',
  digest: 'digest',
  notice: 'notice',
  reply: 'reply',
};

/** Bodies longer than this are folded in the feed (whole on their own page and after one click). */
const FOLD_CHARS = 1500;

export interface RenderOptions {
  /** Fold long bodies (the feed does; a message's own page does not). */
  readonly fold: boolean;
  /** Called when one of the message's buttons is clicked. */
  readonly onButton?: (art: HTMLElement, item: FeedItem, button: Button, el: HTMLButtonElement) => void;
}

// Digest charts live in the data folder's digests/ and are served by /api/digests/NAME (same
// sign-in as the rest of the console); any other image path is described, not fetched.
function renderImage(image: NonNullable<ChatMessage['image']>): HTMLElement {
  const match = /^digests\/([0-9]{4}-[0-9]{2}-[0-9]{2}\.png)$/.exec(String(image.path || ''));
  if (!match?.[1]) return el('p', 'hint', `Chart (not shown here): ${image.alt || 'no description'}`);
  const fig = el('figure', 'chart');
  const img = el('img');
  img.src = `/api/digests/${encodeURIComponent(match[1])}`;
  img.alt = image.alt || 'Chart';
  img.width = 960;
  img.height = 600;
  img.loading = 'lazy';
  fig.appendChild(img);
  return fig;
}

function renderHead(m: ChatMessage, item: FeedItem | null, art: HTMLElement): HTMLElement {
  const head = el('header', 'msg-head');
  head.appendChild(el('span', 'badge', KINDS[m.kind] || 'message'));
  if (m.severity) head.appendChild(el('span', 'sev', m.severity));
  const h = el('h3', 'msg-title', m.title);
  h.id = nextId('m-title');
  art.setAttribute('aria-labelledby', h.id);
  head.appendChild(h);
  if (item) {
    const meta = el('span', 'meta');
    meta.appendChild(document.createTextNode(`${item.channel} \u00b7 `));
    const link = el('a');
    link.href = `/messages/${encodeURIComponent(item.id)}`;
    link.appendChild(when(item.postedAt));
    meta.appendChild(link);
    if (item.updatedAt !== item.postedAt) {
      meta.appendChild(document.createTextNode(' \u00b7 updated '));
      meta.appendChild(when(item.updatedAt));
    }
    head.appendChild(meta);
  }
  return head;
}

function renderBody(text: string, fold: boolean, art: HTMLElement): void {
  const body = el('div', 'body', text);
  art.appendChild(body);
  if (!fold || text.length <= FOLD_CHARS) return;
  body.classList.add('folded');
  body.id = nextId('m-body');
  const more = el('button', 'more', 'Show the whole message');
  more.type = 'button';
  more.setAttribute('aria-expanded', 'false');
  more.setAttribute('aria-controls', body.id);
  more.addEventListener('click', () => {
    const folded = body.classList.toggle('folded');
    more.setAttribute('aria-expanded', folded ? 'false' : 'true');
    more.textContent = folded ? 'Show the whole message' : 'Fold it again';
  });
  art.appendChild(more);
}

function renderLinks(links: ChatMessage['links']): HTMLElement {
  const ul = el('ul', 'links');
  for (const l of links) {
    const li = el('li');
    const href = safeUrl(l.url);
    if (href) {
      const suffix = ` (${new URL(href).host})`;
      const a = el('a', null, l.label.endsWith(suffix) ? l.label : l.label + suffix);
      a.href = href;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      li.appendChild(a);
    } else {
      li.textContent = `${l.label} (link not shown: only http and https links are)`;
    }
    ul.appendChild(li);
  }
  return ul;
}

function renderButtons(m: ChatMessage, item: FeedItem, art: HTMLElement, o: RenderOptions): HTMLElement {
  const actions = el('div', 'actions');
  actions.setAttribute('role', 'group');
  actions.setAttribute('aria-label', `Actions for ${m.title}`);
  for (const b of m.buttons) {
    const cls = b.style === 'primary' ? 'primary' : b.style === 'danger' ? 'danger' : '';
    const btn = el('button', cls, b.label);
    btn.type = 'button';
    btn.addEventListener('click', () => o.onButton?.(art, item, b, btn));
    actions.appendChild(btn);
  }
  return actions;
}

/** The message as an article; `item` is its place in the feed (null for a command's reply). */
export function renderMessage(m: ChatMessage, item: FeedItem | null, o: RenderOptions): HTMLElement {
  const art = el('article', `msg kind-${token(m.kind)} sev-${token(m.severity)}`);
  art.appendChild(renderHead(m, item, art));
  if (m.mentions?.length) art.appendChild(el('p', 'mentions', `For: ${m.mentions.join(', ')}`));
  if (m.image) art.appendChild(renderImage(m.image));
  if (m.body) renderBody(m.body, item !== null && o.fold, art);
  if (m.fields?.length) {
    const dl = el('dl', 'fields');
    for (const f of m.fields) {
      dl.appendChild(el('dt', null, f.label));
      dl.appendChild(el('dd', null, f.value));
    }
    art.appendChild(dl);
  }
  if (m.links?.length) art.appendChild(renderLinks(m.links));
  if (item && m.buttons?.length) art.appendChild(renderButtons(m, item, art, o));
  if (item) {
    const status = el('p', 'status');
    status.setAttribute('aria-live', 'polite');
    art.appendChild(status);
  }
  return art;
}

export function setBusy(art: HTMLElement, busy: boolean): void {
  for (const b of art.querySelectorAll<HTMLButtonElement>('.actions button')) b.disabled = busy;
}

export function setStatus(art: HTMLElement, text: string, isError = false): void {
  const s = art.querySelector('.status');
  if (!s) return;
  s.textContent = text;
  s.className = `status${isError ? ' error' : ''}`;
}
