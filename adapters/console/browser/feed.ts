/**
 * The feed: messages newest first, updated in place by id (an update never adds a second copy),
 * replies in an incident's thread folded under its card, oldest first, and the channel filter.
 * `cursor` is the newest feed revision seen, for catching up after the live stream drops.
 */
import type { FeedItem } from '../console-adapter.js';
import { byId, el } from './dom.js';
import { type RenderOptions, renderMessage, setStatus } from './render.js';

interface Shown {
  item: FeedItem;
  readonly el: HTMLLIElement;
  readonly inThread: boolean;
}

export class Feed {
  readonly #shown = new Map<string, Shown>();
  #cursor = 0;

  constructor(
    /** Show only this message (a message's own page), or '' for all. */
    private readonly onlyId: string,
    private readonly render: RenderOptions,
  ) {}

  get cursor(): number {
    return this.#cursor;
  }

  /** The article now shown for a message (it is replaced on each update). */
  article(id: string): HTMLElement | null {
    return this.#shown.get(id)?.el.querySelector('article') ?? null;
  }

  upsert(item: FeedItem): void {
    if (item.seq > this.#cursor) this.#cursor = item.seq;
    if (this.onlyId && item.id !== this.onlyId) return;
    const old = this.#shown.get(item.id);
    if (old && old.item.seq >= item.seq) return;
    const art = renderMessage(item.message, item, this.render);
    if (old) {
      const prev = old.el.querySelector('.status');
      if (prev?.textContent) setStatus(art, prev.textContent, prev.classList.contains('error'));
      art.classList.add('changed');
      // Replace only the message: an incident card keeps its thread folded under it.
      const was = old.el.querySelector(':scope > article');
      if (was) old.el.replaceChild(art, was);
      else old.el.insertBefore(art, old.el.firstChild);
      old.item = item;
      return;
    }
    const li = el('li');
    li.setAttribute('data-channel', item.channel);
    li.appendChild(art);
    const parent = item.thread ? this.#shown.get(item.thread) : undefined;
    if (parent) {
      // A reply in an incident's thread: folded under its card, oldest first.
      const thread = threadOf(parent.el);
      thread.list.appendChild(li);
      const n = thread.list.children.length;
      thread.summary.textContent = `${n}${n === 1 ? ' reply' : ' replies'} in the thread`;
      this.#shown.set(item.id, { item, el: li, inThread: true });
      return;
    }
    const f = channelFilter();
    li.hidden = !!f && f !== item.channel;
    const list = byId('feed');
    list?.insertBefore(li, list.firstChild);
    this.#shown.set(item.id, { item, el: li, inThread: false });
    noteChannel(item.channel);
    const empty = byId('empty');
    if (empty) empty.hidden = true;
  }

  /** Shows only the top-level messages of `channel` ('' for all); threads follow their card. */
  filter(channel: string): void {
    for (const s of this.#shown.values()) {
      if (!s.inThread) s.el.hidden = !!channel && channel !== s.item.channel;
    }
  }
}

function threadOf(cardLi: HTMLElement): { summary: HTMLElement; list: HTMLElement } {
  let box = cardLi.querySelector<HTMLDetailsElement>(':scope > details.thread');
  if (!box) {
    box = el('details', 'thread');
    box.appendChild(el('summary', null, ''));
    box.appendChild(el('ol', 'replies'));
    cardLi.appendChild(box);
  }
  return {
    summary: box.querySelector('summary') as HTMLElement,
    list: box.querySelector('ol') as HTMLElement,
  };
}

/** The channel chosen in the filter, or '' for all. */
export function channelFilter(): string {
  return byId<HTMLSelectElement>('channel')?.value ?? '';
}

function noteChannel(ch: string): void {
  const s = byId<HTMLSelectElement>('channel');
  if (!s) return;
  for (const o of s.options) if (o.value === ch) return;
  const o = el('option', null, ch);
  o.value = ch;
  s.appendChild(o);
}
