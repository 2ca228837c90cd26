import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandDefinition, commandText, registerCommands } from '../../../adapters/discord/commands.js';
import { DiscordAdapter } from '../../../adapters/discord/discord-adapter.js';
import { customId, DISCORD_LIMITS, parseCustomId, renderMessage } from '../../../adapters/discord/render.js';
import type { ChatInbound, InboundClick, InboundCommand } from '../../../src/chat/adapter.js';
import { DeliveryError } from '../../../src/chat/adapter.js';
import { parseCommand, VERBS } from '../../../src/chat/commands/grammar.js';
import { type ChatMessage, MESSAGE_KINDS, message } from '../../../src/chat/message.js';
import {
  APPLICATION_ID,
  buttonClick,
  type FakeDiscord,
  GUILD_ID,
  modalSubmit,
  type RestCall,
  slashCommand,
  startFakeDiscord,
  VERB_OPTION_SAMPLES,
} from '../../fakes/discord.js';

const NONCE = 'n0nce-abcdefghijklmnopqrstuv';

class RecordingInbound implements ChatInbound {
  readonly commands: InboundCommand[] = [];
  readonly clicks: InboundClick[] = [];
  delayMs = 0;
  async command(cmd: InboundCommand): Promise<ChatMessage> {
    this.commands.push(cmd);
    await new Promise((r) => setTimeout(r, this.delayMs));
    return message({ kind: 'reply', title: `ran ${cmd.text}` });
  }
  async click(click: InboundClick): Promise<ChatMessage> {
    this.clicks.push(click);
    if (click.actor === 'discord:user:666') {
      return message({ kind: 'reply', title: 'You may not approve a1: approvers only' });
    }
    return message({ kind: 'reply', title: `${click.action} ${click.target} done` });
  }
}

const open: { discord?: FakeDiscord; adapter?: DiscordAdapter } = {};
afterEach(async () => {
  await open.adapter?.stop();
  await open.discord?.close();
  open.adapter = undefined;
  open.discord = undefined;
});

async function setup(options: { deferAfterMs?: number } = {}) {
  const discord = await startFakeDiscord();
  const inbound = new RecordingInbound();
  const adapter = new DiscordAdapter({
    token: 'fake-token',
    apiUrl: discord.apiUrl,
    inbound,
    fullTextUrl: 'http://127.0.0.1:1/console',
    deferAfterMs: options.deferAfterMs ?? 1000,
    readyTimeoutMs: 5000,
  });
  open.discord = discord;
  open.adapter = adapter;
  await adapter.start();
  return { discord, inbound, adapter };
}

const callbacks = (calls: readonly RestCall[], id: string) =>
  calls.filter((c) => c.path.startsWith(`/interactions/${id}/`));

describe('rendering', () => {
  it('renders every kind as an embed coloured by severity, with buttons, links and refs', () => {
    for (const kind of MESSAGE_KINDS) {
      const body = renderMessage(message({ kind, title: `a ${kind}` }), { fullTextUrl: null });
      expect(body.embeds[0]?.title).toBe(`a ${kind}`);
    }
    const body = renderMessage(
      message({
        kind: 'approval',
        title: 'Deploy web?',
        severity: 'critical',
        body: 'guardian wants to **deploy** @everyone <@1>',
        fields: [{ label: 'tier', value: '3' }],
        links: [{ label: 'run', url: 'https://example.com/run/1' }],
        buttons: [
          { action: 'approve', label: 'Approve', style: 'primary', target: 'a1', nonce: NONCE },
          { action: 'deny', label: 'Deny', style: 'danger', target: 'a1', nonce: NONCE },
        ],
        refs: { approval: 'a1', run: 'r1' },
        mentions: ['discord:user:12345', 'discord:role:45678', 'slack:user:U1'],
      }),
      { fullTextUrl: null },
    );
    const embed = body.embeds[0];
    expect(embed?.color).toBe(0xdc2626);
    expect(embed?.description).not.toContain('@everyone');
    expect(embed?.description).not.toContain('<@1>');
    expect(embed?.description).toContain('\\*\\*deploy\\*\\*');
    expect(embed?.fields).toEqual([{ name: 'tier', value: '3' }]);
    expect(embed?.footer?.text).toBe('approval a1 · run r1');
    expect(body.content).toBe('<@12345> <@&45678>');
    expect(body.allowed_mentions).toEqual({ parse: [], users: ['12345'], roles: ['45678'] });
    expect(body.components[0]?.components.map((c) => [c.custom_id, c.style])).toEqual([
      [`autonomy:approve:a1:${NONCE}`, 1],
      [`autonomy:deny:a1:${NONCE}`, 4],
    ]);
    expect(body.components[1]?.components[0]).toMatchObject({ style: 5, url: 'https://example.com/run/1' });
    expect(
      renderMessage(message({ kind: 'alert', title: 'x', severity: 'warning' }), { fullTextUrl: null }),
    ).toMatchObject({ embeds: [{ color: 0xf59e0b }], content: '', allowed_mentions: { parse: [] } });
  });

  it('fits Discord limits and links to the console for the full text', () => {
    const body = renderMessage(
      message({
        kind: 'digest',
        title: 't'.repeat(300),
        body: 'b'.repeat(10_000),
        fields: Array.from({ length: 30 }, (_, i) => ({ label: `f${i}`, value: 'v'.repeat(2000) })),
      }),
      { fullTextUrl: 'http://console/m/1' },
    );
    const e = body.embeds[0];
    const total =
      (e?.title.length ?? 0) +
      (e?.description?.length ?? 0) +
      (e?.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
    expect(e?.title.length).toBeLessThanOrEqual(DISCORD_LIMITS.title);
    expect(e?.fields?.length).toBe(25);
    expect(e?.fields?.every((f) => f.value.length <= 1024)).toBe(true);
    expect(total).toBeLessThanOrEqual(6000);
    expect(e?.description).toContain('full text at http://console/m/1');
  });

  it('round-trips custom ids and refuses forged ones', () => {
    const id = customId({ action: 'approve', target: 'a12', nonce: NONCE });
    expect(parseCustomId(id)).toEqual({ action: 'approve', target: 'a12', nonce: NONCE });
    expect(parseCustomId('autonomy:kill:all:abcdefghij')).toBeNull();
    expect(parseCustomId('autonomy:approve:a12')).toBeNull();
    expect(parseCustomId('other:approve:a12:abcdefghij')).toBeNull();
  });

  it("puts a grant button's hours in its label and its custom id, and refuses forged hours", () => {
    const grant = { action: 'grant', style: 'default', target: 'a12', nonce: NONCE } as const;
    const body = renderMessage(
      message({
        kind: 'approval',
        title: 'Approval a12',
        buttons: [
          { ...grant, label: 'Approve + allow 4h', hours: 4 },
          { ...grant, label: 'Allow for a while', hours: 12 },
        ],
      }),
      { fullTextUrl: null },
    );
    const buttons = body.components[0]?.components ?? [];
    expect(buttons.map((b) => [b.label, b.custom_id])).toEqual([
      ['Approve + allow 4h', `autonomy:grant:a12:${NONCE}:4`],
      ['Allow for a while (12h)', `autonomy:grant:a12:${NONCE}:12`],
    ]);
    expect(buttons.every((b) => (b.custom_id?.length ?? 0) <= 100)).toBe(true);
    expect(parseCustomId(`autonomy:grant:a12:${NONCE}:4`)).toEqual({
      action: 'grant',
      target: 'a12',
      nonce: NONCE,
      hours: 4,
    });
    for (const forged of ['0', '169', '04', '4.5', '-4', '4h', '', '1e2']) {
      expect(parseCustomId(`autonomy:grant:a12:${NONCE}:${forged}`), forged).toBeNull();
    }
    expect(parseCustomId(`autonomy:approve:a12:${NONCE}:4`)).toBeNull();
    expect(parseCustomId(`autonomy:grant:a12:${NONCE}:4:4`)).toBeNull();
  });

  it('turns every subcommand with its options into text the grammar accepts', () => {
    const samples = VERB_OPTION_SAMPLES;
    for (const { verb } of VERBS) {
      const text = commandText(verb, new Map(Object.entries(samples[verb] ?? {})));
      const parsed = parseCommand(text);
      expect(parsed, text).toMatchObject({ ok: true, command: { verb } });
    }
    expect(
      commandText(
        'deny',
        new Map([
          ['id', 'a1'],
          ['reason', 'say "no"'],
        ]),
      ),
    ).toBe('deny a1 say no');
  });

  it('has a subcommand for every verb, agents as choices', () => {
    const def = commandDefinition();
    expect(def.options?.map((o) => o.name).sort()).toEqual(VERBS.map((v) => v.verb).sort());
    const kill = def.options?.find((o) => o.name === 'kill') as unknown as {
      options: { name: string; choices?: { value: string }[] }[];
    };
    expect(kill.options[0]?.choices?.map((c) => c.value)).toContain('guardian');
  });
});

describe('discord.js client against the fake', () => {
  it('logs in, posts and updates with embeds, components and allowed_mentions', async () => {
    const { discord, adapter } = await setup();
    expect(adapter.health().status).toBe('ok');
    expect(discord.identifies).toBe(1);
    const msg = message({
      kind: 'approval',
      title: 'Deploy?',
      severity: 'warning',
      buttons: [{ action: 'approve', label: 'Approve', style: 'primary', target: 'a1', nonce: NONCE }],
      mentions: ['discord:role:42424'],
    });
    const { ref } = await adapter.post('discord:123', msg);
    const post = discord.calls.at(-1);
    expect(post).toMatchObject({ method: 'POST', path: '/channels/123/messages' });
    expect(post?.body).toMatchObject({
      content: '<@&42424>',
      allowed_mentions: { parse: [], users: [], roles: ['42424'] },
      embeds: [{ title: 'Deploy?', color: 0xf59e0b }],
      components: [{ type: 1, components: [{ custom_id: `autonomy:approve:a1:${NONCE}` }] }],
    });
    await adapter.update('discord:123', ref, message({ kind: 'decision', title: 'Approved by Ann' }));
    expect(discord.calls.at(-1)).toMatchObject({
      method: 'PATCH',
      path: `/channels/123/messages/${ref}`,
      body: { embeds: [{ title: 'Approved by Ann' }], components: [] },
    });
  });

  it('maps 429, 5xx and unknown channel to delivery errors the outbox understands', async () => {
    const { discord, adapter } = await setup();
    const msg = message({ kind: 'alert', title: 'x' });
    discord.failNext({ status: 429, retryAfter: 1.5 });
    const limited = await adapter.post('discord:123', msg).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(DeliveryError);
    // discord.js adds its 50 ms safety offset to Retry-After.
    expect((limited as DeliveryError).options.retryAfterMs).toBeGreaterThanOrEqual(1500);
    expect((limited as DeliveryError).options.retryAfterMs).toBeLessThanOrEqual(1600);
    expect((limited as DeliveryError).options.permanent).toBeFalsy();
    discord.failNext({ status: 502 });
    const down = (await adapter.post('discord:124', msg).catch((e: unknown) => e)) as DeliveryError;
    expect(down.options.permanent).toBeFalsy();
    discord.failNext({ status: 404, code: 10003 });
    const gone = (await adapter.post('discord:125', msg).catch((e: unknown) => e)) as DeliveryError;
    expect(gone.options).toMatchObject({ permanent: true, platformCode: '10003' });
    expect(gone.message).toContain('check the channel id');
    const bad = (await adapter.post('slack:C1', msg).catch((e: unknown) => e)) as DeliveryError;
    expect(bad.options.permanent).toBe(true);
    expect(JSON.stringify(discord.calls)).not.toContain('fake-token');
  });

  it('runs slash commands with actor, roles and channel, and replies ephemerally', async () => {
    const { discord, inbound } = await setup();
    discord.dispatch(
      'INTERACTION_CREATE',
      slashCommand('1001', 'status', {}, { userId: '11', roles: ['77'] }),
    );
    discord.dispatch(
      'INTERACTION_CREATE',
      slashCommand(
        '1002',
        'kill',
        { agent: 'guardian', reason: 'flapping deploys' },
        { userId: '11' },
        '501',
      ),
    );
    await discord.waitFor((c) => callbacks(c, '1001').length === 1 && callbacks(c, '1002').length === 1);
    expect(inbound.commands).toEqual([
      {
        platform: 'discord',
        actor: 'discord:user:11',
        actorGroups: ['discord:role:77'],
        channel: 'discord:500',
        text: 'status',
        deliveryId: '1001',
      },
      expect.objectContaining({ channel: 'discord:501', text: 'kill guardian flapping deploys' }),
    ]);
    expect(callbacks(discord.calls, '1002')[0]?.body).toMatchObject({
      type: 4,
      data: { flags: 64, embeds: [{ title: 'ran kill guardian flapping deploys' }] },
    });
  });

  it('defers a slow command, then edits the reply in', async () => {
    const { discord, inbound } = await setup({ deferAfterMs: 50 });
    inbound.delayMs = 200;
    discord.dispatch(
      'INTERACTION_CREATE',
      slashCommand('1003', 'mute', { kind: 'service', name: 'web', duration: '2h' }, { userId: '11' }),
    );
    await discord.waitFor((c) => c.some((x) => x.path.endsWith('/messages/%40original')));
    expect(callbacks(discord.calls, '1003')[0]?.body).toMatchObject({ type: 5, data: { flags: 64 } });
    const edit = discord.calls.find(
      (x) => x.path === `/webhooks/${APPLICATION_ID}/token-1003/messages/%40original`,
    );
    expect(edit?.body).toMatchObject({ embeds: [{ title: 'ran mute service web 2h' }] });
  });

  it('approves by button, once per interaction id, and shows what the core says', async () => {
    const { discord, inbound } = await setup();
    const click = buttonClick('2001', `autonomy:approve:a1:${NONCE}`, { userId: '11', roles: ['9'] });
    discord.dispatch('INTERACTION_CREATE', click);
    discord.dispatch('INTERACTION_CREATE', click);
    discord.dispatch(
      'INTERACTION_CREATE',
      buttonClick('2002', `autonomy:approve:a1:${NONCE}`, { userId: '666' }),
    );
    await discord.waitFor((c) => callbacks(c, '2001').length >= 1 && callbacks(c, '2002').length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(inbound.clicks.filter((c) => c.deliveryId === '2001')).toEqual([
      {
        platform: 'discord',
        actor: 'discord:user:11',
        actorGroups: ['discord:role:9'],
        channel: 'discord:500',
        action: 'approve',
        target: 'a1',
        nonce: NONCE,
        deliveryId: '2001',
      },
    ]);
    expect(callbacks(discord.calls, '2001')).toHaveLength(1);
    expect(callbacks(discord.calls, '2002')[0]?.body).toMatchObject({
      data: { flags: 64, embeds: [{ title: 'You may not approve a1: approvers only' }] },
    });
    discord.dispatch(
      'INTERACTION_CREATE',
      buttonClick('2003', 'autonomy:kill:all:whatever', { userId: '11' }),
    );
    await discord.waitFor((c) => callbacks(c, '2003').length === 1);
    expect(inbound.clicks).toHaveLength(2);
  });

  it('sends a grant click with the hours its button carried, and answers a forged one plainly', async () => {
    const { discord, inbound } = await setup();
    discord.dispatch(
      'INTERACTION_CREATE',
      buttonClick('2101', `autonomy:grant:a1:${NONCE}:8`, { userId: '11' }),
    );
    discord.dispatch(
      'INTERACTION_CREATE',
      buttonClick('2102', `autonomy:grant:a1:${NONCE}:999`, { userId: '11' }),
    );
    await discord.waitFor((c) => callbacks(c, '2101').length === 1 && callbacks(c, '2102').length === 1);
    expect(inbound.clicks).toEqual([
      expect.objectContaining({ action: 'grant', target: 'a1', nonce: NONCE, hours: 8, deliveryId: '2101' }),
    ]);
    expect(callbacks(discord.calls, '2102')[0]?.body).toMatchObject({
      data: { flags: 64, embeds: [{ title: 'This button is not one the bot knows.' }] },
    });
  });

  it('asks for a deny reason in a modal and sends it with the click', async () => {
    const { discord, inbound } = await setup();
    discord.dispatch(
      'INTERACTION_CREATE',
      buttonClick('3001', `autonomy:deny:a1:${NONCE}`, { userId: '11' }),
    );
    await discord.waitFor((c) => callbacks(c, '3001').length === 1);
    const modal = callbacks(discord.calls, '3001')[0]?.body as { type: number; data: { custom_id: string } };
    expect(modal.type).toBe(9);
    expect(inbound.clicks).toHaveLength(0);
    discord.dispatch(
      'INTERACTION_CREATE',
      modalSubmit('3002', modal.data.custom_id, 'not during the sale', { userId: '11' }),
    );
    await discord.waitFor((c) => callbacks(c, '3002').length === 1);
    expect(inbound.clicks).toEqual([
      expect.objectContaining({ action: 'deny', target: 'a1', nonce: NONCE, reason: 'not during the sale' }),
    ]);
  });

  it('reconnects after the gateway drops and delivers a message posted meanwhile once', async () => {
    const { discord, adapter } = await setup();
    // The fake holds the reconnect for 1.5 s: wait (polling, not sleeping) until the adapter says so.
    discord.drop(1500);
    await discord.waitFor(() => adapter.health().status === 'degraded', 1500);
    expect(adapter.health().status).toBe('degraded');
    const posted = adapter.post('discord:123', message({ kind: 'alert', title: 'during the drop' }));
    await posted;
    await discord.waitFor(() => discord.connections >= 2 && discord.resumes >= 1, 5000);
    expect(discord.identifies).toBe(1);
    // The fake counts the RESUME on receipt; the client is ready once the RESUMED reply arrives.
    await discord.waitFor(() => adapter.health().status === 'ok', 5000);
    expect(adapter.health().status).toBe('ok');
    discord.dispatch('INTERACTION_CREATE', slashCommand('4001', 'status', {}, { userId: '11' }));
    await discord.waitFor((c) => callbacks(c, '4001').length === 1, 5000);
    expect(discord.calls.filter((c) => c.path === '/channels/123/messages')).toHaveLength(1);
  });

  it('attaches the digest chart and shows it in the embed', async () => {
    const { discord, adapter } = await setup();
    const dir = await mkdtemp(join(tmpdir(), 'discord-'));
    await writeFile(join(dir, 'chart.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await adapter.post(
      'discord:123',
      message({ kind: 'digest', title: 'Weekly', image: { path: join(dir, 'chart.png'), alt: 'chart' } }),
    );
    const post = discord.calls.at(-1);
    expect(post?.contentType).toContain('multipart/form-data');
    expect(post?.body).toMatchObject({
      embeds: [{ title: 'Weekly', image: { url: 'attachment://chart.png' } }],
    });
  });

  it('registers the slash command in a guild', async () => {
    const discord = await startFakeDiscord();
    open.discord = discord;
    const result = await registerCommands({ token: 't', guildId: GUILD_ID, apiUrl: discord.apiUrl });
    expect(result.scope).toBe('guild');
    expect(discord.calls[0]).toMatchObject({ method: 'GET', path: '/applications/@me' });
    expect(discord.calls[1]).toMatchObject({
      method: 'PUT',
      path: `/applications/${APPLICATION_ID}/guilds/${GUILD_ID}/commands`,
      body: [{ name: 'autonomy' }],
    });
  });
});

describe('Discord adapter configuration', () => {
  it('an empty token is a config error; a login the API refuses says so with its own code and the fix', async () => {
    const inbound = new RecordingInbound();
    expect(() => new DiscordAdapter({ token: ' ', apiUrl: 'http://127.0.0.1:1', inbound })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringMatching(/^DISCORD_TOKEN is empty; set it/),
      }),
    );
    // Nothing listens on port 1: the login cannot reach the API.
    const adapter = new DiscordAdapter({
      token: 'fake-token',
      apiUrl: 'http://127.0.0.1:1',
      inbound,
      readyTimeoutMs: 5000,
    });
    await expect(adapter.start()).rejects.toMatchObject({
      code: 'CHAT_LOGIN_FAILED',
      message: expect.stringMatching(/^Discord login failed: .+; check DISCORD_TOKEN/),
    });
  });
});
