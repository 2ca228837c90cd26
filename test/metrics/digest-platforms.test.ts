/**
 * The weekly digest on Slack and Discord: a real digest (chart drawn into the data folder) through
 * the real adapters against the local fakes. Slack gets the chart uploaded into the digest's
 * thread (files upload v2); Discord gets it attached to the message and shown in the embed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../adapters/discord/discord-adapter.js';
import { SlackAdapter } from '../../adapters/slack/slack-adapter.js';
import { type ChatMessage, message } from '../../src/chat/message.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import { buildDigest } from '../../src/metrics/digest.js';
import { startFakeDiscord } from '../fakes/discord.js';
import { startFakeSlackApi } from '../fakes/slack-api.js';
import { makePolicy } from '../fixtures/policy.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const quiet = pino({ level: 'silent' });

let dir: string;
let database: Database;
let digest: ChatMessage;
let chart: Buffer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autonomy-digest-platforms-'));
  database = openDatabase(join(dir, 'autonomy.db'));
  migrate(database);
  const built = await buildDigest({
    database,
    policy: makePolicy(),
    now: Date.UTC(2026, 2, 30, 9),
    dataDir: dir,
  });
  digest = built.message;
  chart = readFileSync(built.chartFile as string);
});
afterEach(() => {
  database.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the digest chart on chat platforms', () => {
  it('Slack: the digest is posted and its PNG uploaded into the thread with the alt text', async () => {
    const api = await startFakeSlackApi();
    try {
      const adapter = new SlackAdapter({
        botToken: 'xoxb-test',
        signingSecret: 'secret',
        apiUrl: api.url,
        botId: 'BBOT',
        botUserId: 'UBOT',
        now: Date.now,
        publicUrl: null,
        log: quiet,
        dataDir: dir,
        inbound: { command: async () => digest, click: async () => digest },
      });
      const { ref } = await adapter.post('slack:C0DIGEST', digest);
      expect(api.callsTo('chat.postMessage')[0]?.args).toMatchObject({
        channel: 'C0DIGEST',
        text: 'Weekly autonomy digest: week of 2026-03-23',
      });
      expect(api.uploads).toHaveLength(1);
      const uploaded = api.uploads[0]?.data ?? Buffer.alloc(0);
      // The whole PNG went up (inside the form's framing).
      expect(uploaded.indexOf(PNG_SIGNATURE)).toBeGreaterThanOrEqual(0);
      expect(uploaded.indexOf(chart)).toBeGreaterThanOrEqual(0);
      expect(api.callsTo('files.getUploadURLExternal')[0]?.args).toMatchObject({
        filename: '2026-03-23.png',
        alt_text: digest.image?.alt,
      });
      expect(api.callsTo('files.completeUploadExternal')[0]?.args).toMatchObject({
        channel_id: 'C0DIGEST',
        thread_ts: ref,
      });
    } finally {
      await api.close();
    }
  });

  it('Discord: the PNG is attached to the message and shown in its embed; nothing outside the data folder', async () => {
    const discord = await startFakeDiscord();
    const adapter = new DiscordAdapter({
      token: 'fake-token',
      apiUrl: discord.apiUrl,
      dataDir: dir,
      readyTimeoutMs: 5000,
    });
    try {
      await adapter.start();
      await adapter.post('discord:123', digest);
      const post = discord.calls.filter((c) => c.path === '/channels/123/messages').at(-1);
      expect(post?.contentType).toContain('multipart/form-data');
      expect(post?.body).toMatchObject({
        embeds: [
          {
            title: 'Weekly autonomy digest: week of 2026-03-23',
            image: { url: 'attachment://2026-03-23.png' },
          },
        ],
      });
      expect(post?.files).toHaveLength(1);
      expect(post?.files[0]?.name).toBe('2026-03-23.png');
      expect(post?.files[0]?.data.equals(chart)).toBe(true);

      await adapter.post(
        'discord:123',
        message({ kind: 'digest', title: 'Odd', image: { path: join(tmpdir(), 'x.png'), alt: 'x' } }),
      );
      const odd = discord.calls.filter((c) => c.path === '/channels/123/messages').at(-1);
      expect(odd?.files).toEqual([]);
      expect(JSON.stringify(odd?.body)).not.toContain('attachment://');
    } finally {
      await adapter.stop();
      await discord.close();
    }
  });
});
