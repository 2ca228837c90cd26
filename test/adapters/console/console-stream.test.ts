import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../../../src/chat/adapter.js';
import { type ChatMessage, message } from '../../../src/chat/message.js';
import { consoleApp as setup } from '../../helpers/console-app.js';

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, done: (text: string) => boolean) {
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 3000;
  while (!done(text)) {
    if (Date.now() > deadline) throw new Error(`stream did not deliver in time; got:\n${text}`);
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  return text;
}

function events(text: string): { type: string; item: { id: string; message: ChatMessage } }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
}

describe('console live stream', () => {
  it('delivers posts and updates as server-sent events, with retry and heartbeats', async () => {
    const s = setup();
    const res = await s.request('/api/stream', { headers: s.bearer });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const opening = await readUntil(reader, (t) => t.includes(': connected'));
    expect(opening).toMatch(/^retry: 3000$/m);
    const { ref } = await s.adapter.post('console:main', message({ kind: 'alert', title: 'disk full' }));
    await s.adapter.update('console:main', ref, message({ kind: 'alert', title: 'disk full (resolved)' }));
    const text = await readUntil(reader, (t) => events(t).length >= 2 && t.includes(': heartbeat'));
    expect(events(text).map((e) => [e.type, e.item.id, e.item.message.title])).toEqual([
      ['post', ref, 'disk full'],
      ['update', ref, 'disk full (resolved)'],
    ]);
    expect(text).toMatch(/^id: 2$/m);
    await reader.cancel();
    expect(s.adapter.health().detail).toMatch(/0 live viewer/);
  });

  it('replays what changed since Last-Event-ID, and ends streams when the adapter stops', async () => {
    const s = setup();
    await s.adapter.post('console:main', message({ kind: 'notice', title: 'one' }));
    await s.adapter.post('console:main', message({ kind: 'notice', title: 'two' }));
    const res = await s.request('/api/stream', { headers: { ...s.bearer, 'last-event-id': '1' } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const text = await readUntil(reader, (t) => events(t).length >= 1);
    expect(events(text).map((e) => e.item.message.title)).toEqual(['two']);
    await s.adapter.stop();
    const rest = await reader.read();
    const end = rest.done ? rest : await reader.read();
    expect(end.done).toBe(true);
  });

  it('refuses the stream without auth', async () => {
    const s = setup();
    expect((await s.request('/api/stream')).status).toBe(401);
  });
});

describe('console adapter', () => {
  it('delivers only to console channels, keeps the newest messages, and updates in place', async () => {
    const s = setup();
    await expect(s.adapter.post('slack:C123', message({ kind: 'notice', title: 'x' }))).rejects.toSatisfy(
      (e: unknown) => e instanceof DeliveryError && e.options.permanent === true,
    );
    const refs = [];
    for (let i = 1; i <= 7; i++) {
      refs.push((await s.adapter.post('console:main', message({ kind: 'notice', title: `n${i}` }))).ref);
    }
    expect(s.adapter.list().map((i) => i.message.title)).toEqual(['n3', 'n4', 'n5', 'n6', 'n7']);
    await s.adapter.update(
      'console:main',
      refs[3] as string,
      message({ kind: 'notice', title: 'n4 edited' }),
    );
    expect(s.adapter.list().map((i) => i.message.title)).toEqual(['n3', 'n4 edited', 'n5', 'n6', 'n7']);
    await expect(
      s.adapter.update('console:other', refs[3] as string, message({ kind: 'notice', title: 'moved' })),
    ).rejects.toThrow('is in console:main, not console:other');
    // An update for a message that left the feed brings it back at the end, so it is seen.
    await s.adapter.update(
      'console:main',
      refs[0] as string,
      message({ kind: 'notice', title: 'n1 decided' }),
    );
    expect(s.adapter.list().map((i) => i.message.title)).toEqual([
      'n4 edited',
      'n5',
      'n6',
      'n7',
      'n1 decided',
    ]);
  });

  it('restores the feed from stored messages, skipping malformed ones, and updates them later', async () => {
    const s = setup();
    const result = s.adapter.seed([
      {
        id: 'msg_b',
        channel: 'console:main',
        message: { kind: 'notice', title: 'later' },
        postedAt: 20,
        updatedAt: 20,
      },
      {
        id: 'msg_a',
        channel: 'console:main',
        message: { kind: 'notice', title: 'earlier' },
        postedAt: 10,
        updatedAt: 15,
      },
      {
        id: 'msg_c',
        channel: 'console:main',
        message: { kind: 'shout', title: 'bad' },
        postedAt: 30,
        updatedAt: 30,
      },
      {
        id: 'msg_d',
        channel: 'slack:C123',
        message: { kind: 'notice', title: 'elsewhere' },
        postedAt: 40,
        updatedAt: 40,
      },
    ]);
    expect(result).toEqual({ restored: 2, skipped: 2 });
    expect(s.adapter.list().map((i) => i.id)).toEqual(['msg_a', 'msg_b']);
    await s.adapter.update('console:main', 'msg_a', message({ kind: 'decision', title: 'approved by ops' }));
    expect(s.adapter.get('msg_a')).toMatchObject({ postedAt: 10, message: { title: 'approved by ops' } });
    const next = await s.adapter.post('console:main', message({ kind: 'notice', title: 'new' }));
    expect(['msg_a', 'msg_b']).not.toContain(next.ref);
  });
});
