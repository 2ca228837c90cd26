/**
 * The console page: HTML and CSS as strings, and the script bundled from browser/ at build
 * (scripts/bundle-console.mjs). No framework, no external resources (it works offline). The inline
 * script and stylesheet are allowed by their hashes in a strict Content-Security-Policy, so even a
 * rendering bug could not run injected script.
 */
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.gen.js';
import { PAGE_STYLE } from './page-style.js';

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Security headers for every HTML response of the console. */
export function pageHeaders(): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${sha256(PAGE_SCRIPT)}`,
      `style-src ${sha256(PAGE_STYLE)}`,
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function shell(title: string, bodyAttrs: string, body: string, script: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body ${bodyAttrs}>
${body}
${script ? `<script>${PAGE_SCRIPT}</script>` : ''}
</body>
</html>
`;
}

const HEADER = `<header class="top">
  <h1>autonomy <span>console</span></h1>
  <p id="conn" class="conn" role="status" aria-live="polite">loading…</p>
</header>`;

export interface PageOptions {
  /** How often the page asks for changes while the live stream is down. */
  readonly pollMs: number;
}

/** The live feed with the command box. */
export function feedPage(options: PageOptions): string {
  return shell(
    'autonomy console',
    `data-view="feed" data-poll-ms="${Math.trunc(options.pollMs)}"`,
    `${HEADER}
<main id="main">
  <section class="panel" aria-label="Run a command">
    <form id="command-form" autocomplete="off">
      <label for="command">Command</label>
      <div class="row">
        <input id="command" name="command" type="text" placeholder="/autonomy status" spellcheck="false"
          autocapitalize="off" aria-describedby="command-hint">
        <button type="submit">Run</button>
      </div>
      <p id="command-hint" class="hint">With or without <code>/autonomy</code>: <code>status</code>,
        <code>approvals</code>, <code>kill guardian</code>, <code>help</code>. Up and Down recall earlier commands.</p>
    </form>
    <div id="replies" class="replies" aria-live="polite"></div>
  </section>
  <section aria-labelledby="feed-h">
    <div class="feed-head">
      <h2 id="feed-h">Feed</h2>
      <label for="channel">Channel</label>
      <select id="channel"><option value="">all channels</option></select>
    </div>
    <p id="empty" class="hint">No messages yet. Alerts, suggestions and approval requests appear here as they happen.</p>
    <ol id="feed" class="feed" aria-label="Messages, newest first"></ol>
  </section>
</main>`,
    true,
  );
}

/** One message, whole (where "full text" links from Slack and Discord point). */
export function messagePage(id: string, options: PageOptions): string {
  return shell(
    'autonomy console: message',
    `data-view="message" data-message-id="${escapeHtml(id)}" data-poll-ms="${Math.trunc(options.pollMs)}"`,
    `${HEADER}
<main id="main">
  <p><a href="/">\u2190 Back to the feed</a></p>
  <p id="empty" class="hint" hidden></p>
  <ol id="feed" class="feed" aria-label="Message"></ol>
</main>`,
    true,
  );
}

export type NoticeKind = 'signed-out' | 'wrong-token' | 'forbidden' | 'not-found';

/** The short screens shown instead of the console: no session, wrong token, refused Host. */
export function noticePage(kind: NoticeKind, detail = ''): string {
  const text: Record<NoticeKind, [string, string]> = {
    'signed-out': [
      'Open the console with its token',
      'Open the URL that autonomy printed at start (it carries the token once, then this browser keeps a ' +
        'session), or pass the token as <code>Authorization: Bearer &lt;token&gt;</code>. The token is ' +
        '<code>AUTONOMY_CONSOLE_TOKEN</code>, or the <code>console-token</code> file in the data folder.',
    ],
    'wrong-token': [
      'That token is not the console token',
      'Check the URL printed at start, or the <code>console-token</code> file in the data folder ' +
        '(or <code>AUTONOMY_CONSOLE_TOKEN</code>), and open it again.',
    ],
    forbidden: ['This request was refused', escapeHtml(detail)],
    'not-found': ['No such page', 'The console has <a href="/">the feed</a> and one page per message.'],
  };
  const [title, body] = text[kind];
  return shell(
    `autonomy console: ${title}`,
    'data-view="notice"',
    `<main id="main"><section class="notice" role="alert"><h1>${title}</h1><p>${body}</p></section></main>`,
    false,
  );
}
