/** Small DOM helpers. Text only ever reaches the page through textContent and DOM properties. */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T | null {
  return document.getElementById(id) as T | null;
}

/** An element with a class and text (text set as textContent, never parsed as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string | null,
  text?: string | number | null,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** A value safe to use in a class name: lower-case letters and dashes. */
export function token(s: string | undefined | null): string {
  return String(s || 'none')
    .toLowerCase()
    .replace(/[^a-z-]/g, '');
}

/** A <time> for epoch ms, in the reader's locale. */
export function when(ms: number): HTMLTimeElement {
  const d = new Date(ms);
  const t = el('time', null, d.toLocaleString());
  t.dateTime = d.toISOString();
  return t;
}

/** The URL when it is http(s), else null: no javascript:, data: or other schemes become links. */
export function safeUrl(u: string): string | null {
  try {
    const x = new URL(u, location.href);
    return x.protocol === 'http:' || x.protocol === 'https:' ? x.href : null;
  } catch {
    return null;
  }
}

/** Unique ids for labels and aria references. */
let uid = 0;
export function nextId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}`;
}
