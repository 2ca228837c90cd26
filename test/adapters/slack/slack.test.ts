import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { mountSlack, timestampRefusal } from '../../../adapters/slack/request-guard.js';
import { SlackAdapter } from '../../../adapters/slack/slack-adapter.js';
import { DeliveryError, type InboundClick, type InboundCommand } from '../../../src/chat/adapter.js';
import { type ChatMessage, MESSAGE_KINDS, message } from '../../../src/chat/message.js';
import { type FakeSlackApi, slackSignedHeaders, startFakeSlackApi } from '../../fakes/slack-api.js';
import { startFakeSlackSocket } from '../../fakes/slack-socket.js';

const SECRET = 'test-signing-secret-0123456789';
const quietLog = { info: () => {}, warn: () => {}, error: () => {} };

interface Harness {
  api: FakeSlackApi;
  adapter: SlackAdapter;
  commands: InboundCommand[];
  clicks: InboundClick[];
  url: string;
  server: Server;
}

let h: Harness;
/** The clock the request guard reads: the wall clock, unless a test stops it (set to epoch ms). */
let stoppedAt: number | null = null;

async function setup(): Promise<Harness> {
  const api = await startFakeSlackApi();
  api.groups.set('S1', ['U1']);
  const commands: InboundCommand[] = [];
  const clicks: InboundClick[] = [];
  const adapter = new SlackAdapter({
    botToken: 'xoxb-test',
    signingSecret: SECRET,
    apiUrl: api.url,
    botId: 'BBOT',
    botUserId: 'UBOT',
    now: Date.now,
    publicUrl: 'https://bot.example.com',
    log: quietLog,
    groups: () => ['slack:group:S1', 'slack:group:S2'],
    inbound: {
      async command(cmd) {
        commands.push(cmd);
        return message({ kind: 'reply', title: `ran: ${cmd.text}`, audience: cmd.actor });
      },
      async click(click) {
        clicks.push(click);
        return message({ kind: 'reply', title: `${click.action} ${click.target} by ${click.actor}` });
      },
    },
  });
  const app = new Hono();
  mountSlack(app, adapter, () => stoppedAt ?? Date.now());
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  await adapter.start();
  return { api, adapter, commands, clicks, url, server };
}

beforeEach(async () => {
  stoppedAt = null;
  h = await setup();
});
afterEach(async () => {
  await h.adapter.stop();
  await new Promise<void>((r) => {
    h.server.close(() => r());
    h.server.closeAllConnections();
  });
  await h.api.close();
});

function sign(body: string, ts: number, secret = SECRET): Record<string, string> {
  return slackSignedHeaders(body, secret, ts);
}

async function send(body: string, opts: { ts?: number; secret?: string } = {}): Promise<Response> {
  const ts = opts.ts ?? Math.floor(Date.now() / 1000);
  return fetch(h.url, { method: 'POST', headers: sign(body, ts, opts.secret), body });
}

let trigger = 0;
function slashBody(text: string, user = 'U1', channel = 'C1'): string {
  return new URLSearchParams({
    command: '/autonomy',
    text,
    user_id: user,
    channel_id: channel,
    team_id: 'T1',
    trigger_id: `trig.${++trigger}`,
    response_url: h.api.responseUrl(),
    token: 'legacy',
  }).toString();
}

function actionBody(actionId: string, value: string, triggerId = `trig.${++trigger}`): string {
  const payload = {
    type: 'block_actions',
    team: { id: 'T1' },
    user: { id: 'U2' },
    channel: { id: 'C9' },
    container: { type: 'message', channel_id: 'C9', message_ts: '1.2' },
    trigger_id: triggerId,
    response_url: h.api.responseUrl(),
    actions: [{ type: 'button', action_id: actionId, block_id: 'b', value, action_ts: '1' }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

async function until<T>(fn: () => T | undefined | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('slash command /autonomy (HTTP mode, signed requests)', () => {
  it('acks, passes actor, groups, channel and text to the core, and answers ephemerally', async () => {
    const res = await send(slashBody('status'));
    expect(res.status).toBe(200);
    await until(() => h.api.responses.length === 1);
    expect(h.commands[0]).toMatchObject({
      platform: 'slack',
      actor: 'slack:user:U1',
      actorGroups: ['slack:group:S1'],
      channel: 'slack:C1',
      text: 'status',
    });
    expect(h.commands[0]?.deliveryId).toMatch(/^trig\./);
    const reply = h.api.responses[0]?.body as { response_type: string; text: string };
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toContain('ran: status');
  });

  it('passes every verb through unchanged (kill guardian from a user in no group)', async () => {
    for (const text of ['kill guardian flapping', 'approvals', 'help']) {
      await send(slashBody(text, 'U7', 'C2'));
    }
    await until(() => h.commands.length === 3 && h.api.responses.length === 3);
    expect(h.commands.map((c) => c.text).sort()).toEqual(['approvals', 'help', 'kill guardian flapping']);
    const kill = h.commands.find((c) => c.text.startsWith('kill'));
    expect(kill).toMatchObject({ actor: 'slack:user:U7', channel: 'slack:C2', actorGroups: [] });
    // Group membership is cached: one lookup per group across the three commands.
    expect(h.api.callsTo('usergroups.users.list')).toHaveLength(2);
  });

  it('refuses a forged signature with 401 and runs nothing', async () => {
    const res = await send(slashBody('kill all'), { secret: 'not-the-secret' });
    expect(res.status).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.commands).toHaveLength(0);
  });

  it('refuses timestamps more than 5 minutes in the past or in the future', async () => {
    // The guard's clock stands still: on the wall clock, a first request slower than the rest of
    // the second made "now + 301 s" only 300 s ahead by the time of the second one (200, not 401).
    stoppedAt = Date.now();
    const now = Math.floor(stoppedAt / 1000);
    expect((await send(slashBody('kill all'), { ts: now - 301 })).status).toBe(401);
    const future = await send(slashBody('kill all'), { ts: now + 301 });
    expect(future.status).toBe(401);
    expect(await future.text()).toContain('future');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.commands).toHaveLength(0);
    expect(timestampRefusal(String(now + 60), now * 1000, 300_000)).toBeNull();
  });
});

describe('signed requests that mean nothing', () => {
  it('answers 400 to a signed payload=null, JSON null and a body with no type or command; the core sees nothing', async () => {
    const nulls = await send('payload=null');
    expect(nulls.status).toBe(400);
    const json = await fetch(h.url, {
      method: 'POST',
      headers: { ...sign('null', Math.floor(Date.now() / 1000)), 'content-type': 'application/json' },
      body: 'null',
    });
    expect(json.status).toBe(400);
    const empty = await send('foo=bar');
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('no type or command');
    const broken = await send('payload=%7Bnot-json');
    expect(broken.status).toBe(400);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.commands).toHaveLength(0);
    expect(h.clicks).toHaveLength(0);
    // The adapter still serves a real command after them.
    expect((await send(slashBody('status'))).status).toBe(200);
    await until(() => h.commands.length === 1);
  });

  it('still refuses an unsigned meaningless body with 401 (the signature is checked first)', async () => {
    const res = await send('payload=null', { secret: 'not-the-secret' });
    expect(res.status).toBe(401);
  });
});

describe('buttons', () => {
  it('approve: the click reaches the core with target, nonce and actor; the reply is ephemeral', async () => {
    const res = await send(actionBody('autonomy:approve', 'a12:nonce-123456'));
    expect(res.status).toBe(200);
    await until(() => h.api.responses.length === 1);
    expect(h.clicks[0]).toMatchObject({
      platform: 'slack',
      actor: 'slack:user:U2',
      channel: 'slack:C9',
      action: 'approve',
      target: 'a12',
      nonce: 'nonce-123456',
      actorGroups: [],
    });
    expect(h.api.responses[0]?.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  });

  it('a redelivered click (same trigger id) reaches the core once', async () => {
    const body = actionBody('autonomy:approve', 'a12:nonce-123456', 'trig.same');
    await send(body);
    await send(body);
    await until(() => h.api.responses.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.clicks).toHaveLength(1);
  });

  it('deny opens a modal; its submission is a deny click with the reason', async () => {
    await send(actionBody('autonomy:deny', 'a3:nonce-abcdefgh'));
    const open = await until(() => h.api.callsTo('views.open')[0]);
    expect(h.clicks).toHaveLength(0);
    const view = open.args.view as { callback_id: string; private_metadata: string };
    const submission = {
      type: 'view_submission',
      team: { id: 'T1' },
      user: { id: 'U2' },
      trigger_id: 'trig.view',
      view: {
        id: 'V1',
        hash: 'h1',
        callback_id: view.callback_id,
        private_metadata: view.private_metadata,
        state: {
          values: { reason: { reason: { type: 'plain_text_input', value: ' too risky <!channel> ' } } },
        },
      },
    };
    const res = await send(new URLSearchParams({ payload: JSON.stringify(submission) }).toString());
    expect(res.status).toBe(200);
    await until(() => h.api.callsTo('chat.postEphemeral').length === 1);
    expect(h.clicks[0]).toMatchObject({
      action: 'deny',
      target: 'a3',
      nonce: 'nonce-abcdefgh',
      reason: 'too risky <!channel>',
      channel: 'slack:C9',
      actor: 'slack:user:U2',
    });
    expect(h.api.callsTo('chat.postEphemeral')[0]?.args).toMatchObject({ channel: 'C9', user: 'U2' });
  });

  it('ignores a button value that is not target:nonce', async () => {
    await send(actionBody('autonomy:approve', 'a12:<script>'));
    await new Promise((r) => setTimeout(r, 100));
    expect(h.clicks).toHaveLength(0);
  });
});

const alert = (over: Partial<Parameters<typeof message>[0]> = {}): ChatMessage =>
  message({ kind: 'alert', title: 'Disk full', severity: 'critical', body: 'db1 at 99%', ...over });

describe('delivery', () => {
  it('posts Block Kit and returns the ts; updates in place', async () => {
    const { ref } = await h.adapter.post('slack:C1', alert());
    expect(ref).toMatch(/^\d+\.\d+$/);
    await h.adapter.update('slack:C1', ref, alert({ title: 'Disk full (resolved)' }));
    const update = h.api.callsTo('chat.update')[0];
    expect(update?.args).toMatchObject({ channel: 'C1', ts: ref });
    expect(JSON.stringify(update?.args.blocks)).toContain('Disk full (resolved)');
    expect(h.api.calls.every((c) => c.token === 'xoxb-test')).toBe(true);
  });

  it('429 becomes a DeliveryError with Retry-After for the outbox (no hidden client retries)', async () => {
    h.api.fail('chat.postMessage', { status: 429, retryAfter: 2 });
    const err = await h.adapter.post('slack:C1', alert()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).options).toMatchObject({ retryAfterMs: 2000, platformCode: 'ratelimited' });
    expect((err as DeliveryError).options.permanent).toBeFalsy();
    expect(h.api.callsTo('chat.postMessage')).toHaveLength(1);
    expect(h.adapter.health().status).toBe('degraded');
  });

  it('survives a 429 storm during an alert burst: every alert is delivered on retry', async () => {
    h.api.fail('chat.postMessage', { status: 429, retryAfter: 1 }, 15);
    const pending = Array.from({ length: 20 }, (_, i) => alert({ title: `alert ${i}` }));
    const delivered: string[] = [];
    let retryAfterSeen = 0;
    for (let round = 0; pending.length > 0 && round < 10; round++) {
      for (const m of pending.splice(0)) {
        try {
          await h.adapter.post('slack:C1', m);
          delivered.push(m.title);
        } catch (err) {
          expect(err).toBeInstanceOf(DeliveryError);
          retryAfterSeen = Math.max(retryAfterSeen, (err as DeliveryError).options.retryAfterMs ?? 0);
          pending.push(m);
        }
      }
    }
    expect(retryAfterSeen).toBe(1000);
    expect(new Set(delivered).size).toBe(20);
    expect(h.adapter.health().status).toBe('ok');
  });

  it('5xx is transient; unknown channel and missing message are permanent', async () => {
    h.api.fail('chat.postMessage', { status: 500 });
    const e500 = (await h.adapter.post('slack:C1', alert()).catch((e: unknown) => e)) as DeliveryError;
    expect(e500.options).toMatchObject({ platformCode: '500', permanent: false });
    h.api.fail('chat.postMessage', { error: 'channel_not_found' });
    const gone = (await h.adapter.post('slack:C404', alert()).catch((e: unknown) => e)) as DeliveryError;
    expect(gone.options).toMatchObject({ platformCode: 'channel_not_found', permanent: true });
    expect(gone.message).toContain('invite the app');
    h.api.fail('chat.update', { error: 'message_not_found' });
    const old = (await h.adapter
      .update('slack:C1', '1.2', alert())
      .catch((e: unknown) => e)) as DeliveryError;
    expect(old.options.permanent).toBe(true);
    const notSlack = (await h.adapter.post('discord:1', alert()).catch((e: unknown) => e)) as DeliveryError;
    expect(notSlack.options.permanent).toBe(true);
  });
});

describe('digest chart', () => {
  it('uploads the chart from the data folder into the digest thread; never a file outside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autonomy-slack-'));
    try {
      writeFileSync(join(dir, 'chart.png'), Buffer.alloc(1234, 7));
      const adapter = new SlackAdapter({
        botToken: 'xoxb-test',
        signingSecret: SECRET,
        apiUrl: h.api.url,
        botId: 'BBOT',
        botUserId: 'UBOT',
        now: Date.now,
        publicUrl: null,
        log: quietLog,
        dataDir: dir,
        inbound: { command: async () => alert(), click: async () => alert() },
      });
      const digest = (path: string) =>
        message({ kind: 'digest', title: 'Weekly digest', image: { path, alt: 'MTTR by week' } });
      const { ref } = await adapter.post('slack:C1', digest('chart.png'));
      // The file goes up as multipart form data: its 1234 bytes plus the form's framing.
      expect(h.api.uploads).toHaveLength(1);
      expect(h.api.uploads[0]?.bytes).toBeGreaterThanOrEqual(1234);
      const complete = h.api.callsTo('files.completeUploadExternal')[0];
      expect(complete?.args).toMatchObject({ channel_id: 'C1', thread_ts: ref });
      await adapter.post('slack:C1', digest('../../etc/passwd'));
      expect(h.api.uploads).toHaveLength(1);
      expect(h.api.callsTo('chat.postMessage')).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rendering', () => {
  it('escapes event text so it can never mention anyone; mentions only from message.mentions', async () => {
    const evil = '<!channel> <@U999> <!subteam^S9> <https://evil.example|click> & done';
    await h.adapter.post(
      'slack:C1',
      alert({
        title: evil,
        body: evil,
        fields: [{ label: '<@U1>', value: evil }],
        links: [{ label: '<!here>', url: 'https://example.com/a?b=1&c=2' }],
        mentions: ['slack:user:U123', 'slack:group:S456', 'discord:user:123456'],
      }),
    );
    const args = h.api.callsTo('chat.postMessage')[0]?.args ?? {};
    const all = JSON.stringify(args);
    for (const bad of ['<!channel>', '<@U999>', '<!subteam^S9>', '<https://evil', '<!here>', '<@U1>']) {
      expect(all).not.toContain(bad);
    }
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).toContain('<@U123>');
    expect(all).toContain('<!subteam^S456>');
    expect(all).toContain('<https://example.com/a?b=1&amp;c=2|&lt;!here&gt; (example.com)>');
  });

  it('renders every message kind with context refs and buttons', () => {
    for (const kind of MESSAGE_KINDS) {
      const r = h.adapter.render(
        message({
          kind,
          title: `a ${kind}`,
          severity: 'warning',
          refs: { incident: 'i7', approval: 'a12', run: 'run_1' },
          buttons: [
            { action: 'approve', label: 'Approve', style: 'primary', target: 'a12', nonce: 'n-12345678' },
            { action: 'deny', label: 'Deny', style: 'danger', target: 'a12', nonce: 'n-12345678' },
            { action: 'grant', label: 'Allow 4h', target: 'a12', nonce: 'n-12345678', hours: 4 },
          ],
        }),
      );
      const json = JSON.stringify(r.blocks);
      expect(r.blocks[0]).toMatchObject({ type: 'header' });
      expect(json).toContain('incident i7 · approval a12 · run run_1');
      expect(json).toContain('"action_id":"autonomy:approve","text"');
      expect(json).toContain('"value":"a12:n-12345678:4"');
      expect(json).toContain('"style":"danger"');
    }
  });

  it('cuts long text to Slack limits with a link to the console', () => {
    const r = h.adapter.render(alert({ title: 'x'.repeat(300), body: '<'.repeat(20_000) }));
    const sections = r.blocks.filter((b) => b.type === 'section') as { text: { text: string } }[];
    expect(sections.every((s) => s.text.text.length <= 3000)).toBe(true);
    expect(JSON.stringify(r.blocks)).toContain('full text at https://bot.example.com');
    const header = r.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(150);
  });
});

describe('Socket Mode', () => {
  it('connects through apps.connections.open, receives /autonomy over the socket and acks the envelope', async () => {
    const socket = await startFakeSlackSocket(h.api);
    const commands: InboundCommand[] = [];
    const socketAdapter = new SlackAdapter({
      botToken: 'xoxb-test',
      appToken: 'xapp-test',
      apiUrl: h.api.url,
      botId: 'BBOT',
      botUserId: 'UBOT',
      now: Date.now,
      publicUrl: null,
      log: quietLog,
      groups: () => ['slack:group:S1'],
      inbound: {
        async command(cmd) {
          commands.push(cmd);
          return message({ kind: 'reply', title: 'guardian stopped' });
        },
        async click() {
          return message({ kind: 'reply', title: 'n/a' });
        },
      },
    });
    try {
      expect(socketAdapter.mode).toBe('socket');
      await socketAdapter.start();
      await socket.connected();
      const ack = await socket.deliver('slash_commands', {
        command: '/autonomy',
        text: 'kill guardian',
        user_id: 'U1',
        channel_id: 'C5',
        team_id: 'T1',
        trigger_id: 'trig.socket',
        response_url: h.api.responseUrl(),
      });
      expect(ack.attempt).toBe(0);
      await until(() => h.api.responses.length === 1);
      expect(commands[0]).toMatchObject({
        actor: 'slack:user:U1',
        actorGroups: ['slack:group:S1'],
        channel: 'slack:C5',
        text: 'kill guardian',
      });
      expect(h.api.callsTo('apps.connections.open')[0]?.token).toBe('xapp-test');
      expect(h.api.responses[0]?.body).toMatchObject({ response_type: 'ephemeral' });
    } finally {
      await socketAdapter.stop();
      await socket.close();
    }
  });
});

describe('manifest', () => {
  it('declares the slash command, the scopes the adapter uses, interactivity and Socket Mode', async () => {
    const text = await readFile(new URL('../../../adapters/slack/manifest.yaml', import.meta.url), 'utf8');
    const manifest = parseYaml(text) as {
      features: { slash_commands: { command: string }[] };
      oauth_config: { scopes: { bot: string[] } };
      settings: { interactivity: { is_enabled: boolean }; socket_mode_enabled: boolean };
    };
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual(['/autonomy']);
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining(['commands', 'chat:write', 'usergroups:read']),
    );
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });
});

describe('Slack adapter configuration', () => {
  const base = {
    now: Date.now,
    publicUrl: null,
    log: quietLog,
    inbound: {
      command: async () => message({ kind: 'notice', title: 'x' }),
      click: async () => message({ kind: 'notice', title: 'x' }),
    },
  };
  it('refuses to start without a bot token, or without a way to receive: a config error naming the variable and the fix', () => {
    const missing = (o: Partial<{ botToken: string; signingSecret: string }>) => {
      try {
        new SlackAdapter({
          ...base,
          botToken: o.botToken ?? 'xoxb-test',
          ...(o.signingSecret === undefined ? {} : { signingSecret: o.signingSecret }),
        });
      } catch (err) {
        return { code: (err as { code?: string }).code, message: (err as Error).message };
      }
      return null;
    };
    expect(missing({ botToken: ' ', signingSecret: SECRET })).toEqual({
      code: 'CONFIG_INVALID',
      message: 'SLACK_BOT_TOKEN is empty; set it to the xoxb-… bot token',
    });
    expect(missing({})).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^Slack needs SLACK_SIGNING_SECRET \(HTTP mode\) or SLACK_APP_TOKEN/),
    });
  });
});
