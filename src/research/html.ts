/**
 * A fetched page as text for a model: HTML through html-to-text (scripts, styles, images, navigation
 * and embedded frames dropped; links kept as `text [absolute URL]`; no line wrapping), JSON pretty
 * printed, other text as it is, in the charset the server named (UTF-8 when it named none). The
 * result is untrusted data like everything else that comes from the web.
 */
import { convert, type HtmlToTextOptions } from 'html-to-text';

export type TextKind = 'html' | 'json' | 'plain';

/** What kind of text a Content-Type header announces, or null when it is not text. */
export function textKind(contentType: string | undefined): TextKind | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type.startsWith('text/')) return 'plain';
  return null;
}

/** The body decoded in the Content-Type's charset (UTF-8 when missing or unknown). */
export function decodeBody(body: Uint8Array, contentType: string | undefined): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

const SKIP = [
  'script',
  'style',
  'noscript',
  'template',
  'img',
  'picture',
  'svg',
  'nav',
  'iframe',
  'object',
  'embed',
];
const HEADINGS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];

function options(pageUrl: string): HtmlToTextOptions {
  return {
    wordwrap: false,
    selectors: [
      ...SKIP.map((selector) => ({ selector, format: 'skip' })),
      ...HEADINGS.map((selector) => ({ selector, options: { uppercase: false } })),
      // Tables laid out as columns (the default runs cells together): advisories list versions in them.
      {
        selector: 'table',
        format: 'dataTable',
        options: { uppercaseHeaderCells: false, maxColumnWidth: 80 },
      },
      {
        selector: 'a',
        options: {
          linkBrackets: ['[', ']'] as [string, string],
          hideLinkHrefIfSameAsText: true,
          pathRewrite: (path: string) => absolute(path, pageUrl),
        },
      },
    ],
  };
}

function absolute(path: string, base: string): string {
  try {
    return new URL(path, base).href;
  } catch {
    return path;
  }
}

/** The page's `<title>`, as text; null when it has none. */
export function htmlTitle(html: string): string | null {
  const inner = /<title[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html)?.[1];
  if (inner === undefined) return null;
  const title = convert(inner, { wordwrap: false }).replace(/\s+/g, ' ').trim();
  return title === '' ? null : title;
}

export function htmlToText(html: string, pageUrl: string): string {
  return convert(html, options(pageUrl)).trim();
}

/** JSON pretty printed; as it came when it does not parse (e.g. cut short by the size cap). */
export function jsonToText(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
