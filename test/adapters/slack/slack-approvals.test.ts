/**
 * The Slack adapter in front of the real approvals (SQLite, nonces, roles, exactly-once): buttons
 * rendered by the adapter are clicked through signed requests, as Slack would send them.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mountSlack } from '../../../adapters/slack/request-guard.js';
import { SlackAdapter } from '../../../adapters/slack/slack-adapter.js';
import { message } from '../../../src/chat/message.js';
import { type FakeSlackApi, slackSignedHeaders, startFakeSlackApi } from '../../fakes/slack-api.js';
import { makePolicy } from '../../fixtures/policy.js';
import { decideNow, type Kit, makeKit, type Node, RESTART_WEB } from '../../helpers/approvals-kit.js';

const SIGNING = 'approvals-signing-secret-42';
const quietLog = { info: () => {}, warn: () => {}, error: () => {} };

let kit: Kit;
let node: Node;
let api: FakeSlackApi;
let adapter: SlackAdapter;
let server: Server;
let url: string;
let trigger = 0;

beforeEach(async () => {
  kit = makeKit(makePolicy({ phase: 3 }));
  node = kit.connect();
  api = await startFakeSlackApi();
  adapter = new SlackAdapter({
    botToken: 'xoxb-test',
    signingSecret: SIGNING,
    apiUrl: api.url,
    botId: 'BBOT',
    botUserId: 'UBOT',
    now: Date.now,
    publicUrl: null,
    log: quietLog,
    inbound: {
      command: async () => message({ kind: 'reply', title: 'n/a' }),
      click: (click) => node.approvals.click(click),
    },
  });
  const app = new Hono();
  mountSlack(app, adapter);
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise<void>((r) => server.once('listening', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
});

afterEach(async () => {
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  await api.close();
  kit.cleanup();
});

/** Asks for approval and posts the request to Slack; returns the buttons as Slack shows them. */
async function postApproval(): Promise<{ action_id: string; value: string }[]> {
  const decision = decideNow(kit.policy, RESTART_WEB, kit.clock);
  node.approvals.request(RESTART_WEB, decision, { trigger: 'webhook' });
  const [post] = node.sink.posts();
  if (!post) throw new Error('no approval message');
  await adapter.post(post.channel, post.message);
  const blocks = api.callsTo('chat.postMessage')[0]?.args.blocks as { type: string; elements?: unknown[] }[];
  return blocks.find((b) => b.type === 'actions')?.elements as { action_id: string; value: string }[];
}

async function click(user: string, actionId: string, value: string): Promise<string> {
  const before = api.responses.length;
  const payload = {
    type: 'block_actions',
    team: { id: 'T1' },
    user: { id: user },
    channel: { id: 'C0APPROVALS' },
    trigger_id: `trig.${++trigger}`,
    response_url: api.responseUrl(),
    actions: [{ type: 'button', action_id: actionId, block_id: 'b', value, action_ts: '1' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const headers = slackSignedHeaders(body, SIGNING, Math.floor(Date.now() / 1000));
  const res = await fetch(url, { method: 'POST', headers, body });
  expect(res.status).toBe(200);
  const end = Date.now() + 3000;
  while (api.responses.length === before) {
    if (Date.now() > end) throw new Error('no reply to the click');
    await new Promise((r) => setTimeout(r, 10));
  }
  return String(api.responses[before]?.body.text);
}

describe('approval buttons from Slack, decided by the real approvals', () => {
  it('approve runs the action once; a second click (double click) runs nothing more', async () => {
    const buttons = await postApproval();
    const approve = buttons.find((b) => b.action_id === 'autonomy:approve');
    expect(approve?.value).toMatch(/^a1:/);
    const first = await click('U0APPROVER', approve?.action_id ?? '', approve?.value ?? '');
    expect(first).toContain('a1 approved');
    await node.approvals.settled();
    const second = await click('U0APPROVER', approve?.action_id ?? '', approve?.value ?? '');
    expect(second).toContain('already approved by slack:user:U0APPROVER');
    expect(second).toContain('Nothing runs again');
    expect(node.executor.calls).toHaveLength(1);
  });

  it('refuses an unauthorised click and a stale (forged nonce) button; nothing runs', async () => {
    const buttons = await postApproval();
    const approve = buttons.find((b) => b.action_id === 'autonomy:approve');
    const refused = await click('U0OPERATOR', 'autonomy:approve', approve?.value ?? '');
    expect(refused).toBe('Refused: the approver role is needed');
    const forged = await click('U0APPROVER', 'autonomy:approve', 'a1:forged-nonce-000000');
    expect(forged).toBe('Refused: stale or forged button');
    expect(node.executor.calls).toHaveLength(0);
    expect(node.approvals.get('a1')?.state).toBe('pending');
  });
});
