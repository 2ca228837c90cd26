/**
 * The console page's script, bundled by esbuild at build (scripts/bundle-console.mjs) into one
 * inline script allowed by its hash in the page's Content-Security-Policy. No framework and no
 * external resources: the console works offline. The page tells it what to show with data-*
 * attributes on <body> (page.ts): the view (feed or one message), the message id, the poll interval.
 */
import { api, isSignedOut, type MessageAnswer, type MessagesAnswer } from './api.js';
import { clickHandler } from './clicks.js';
import { setupCommands } from './commands.js';
import { byId } from './dom.js';
import { Feed } from './feed.js';
import { Live, setConn } from './live.js';

const view = document.body.getAttribute('data-view');
const onlyId = document.body.getAttribute('data-message-id') || '';
const pollMs = Number(document.body.getAttribute('data-poll-ms')) || 5000;

const feed: Feed = new Feed(onlyId, {
  fold: view === 'feed',
  onButton: clickHandler((id) => feed.article(id)),
});
const live = new Live(feed, pollMs);

if (view === 'feed') setupCommands(feed);
setConn('connecting\u2026', '');
const first = onlyId
  ? api<MessageAnswer>('GET', `/api/messages/${encodeURIComponent(onlyId)}`).then((data) =>
      feed.upsert(data.message),
    )
  : api<MessagesAnswer>('GET', '/api/messages').then((data) => {
      for (const item of data.messages) feed.upsert(item);
    });
first.then(
  () => live.connect(),
  (err: Error) => {
    if (isSignedOut()) return;
    const empty = byId('empty');
    if (empty) {
      empty.hidden = false;
      empty.textContent = err.message;
    }
    live.connect();
  },
);
