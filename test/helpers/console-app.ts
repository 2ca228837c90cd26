/**
 * A console mounted on a bare hono app for `app.request()` tests: a fake clock, sequential ids,
 * a recording ChatInbound and a log sink.
 */
import { Hono } from 'hono';
import { pino } from 'pino';
import { defaultAllowedHosts } from '../../adapters/console/auth.js';
import { ConsoleAdapter } from '../../adapters/console/console-adapter.js';
import { mountConsole } from '../../adapters/console/routes.js';
import type { ChatInbound, InboundClick, InboundCommand } from '../../src/chat/adapter.js';
import { type ChatMessage, message } from '../../src/chat/message.js';
import { sequentialIds } from '../../src/process/ids.js';
import { LogSink } from './bot.js';

export const TOKEN = 'tok_0123456789abcdef0123456789abcdef';
export const HOST = '127.0.0.1:8787';
export const ORIGIN = `http://${HOST}`;
export const PUBLIC_URL = 'https://bot.example.com';

export function approvalMessage(target: string, nonce: string): ChatMessage {
  return message({
    kind: 'approval',
    title: `Approve restart-service on checkout? (${target})`,
    severity: 'warning',
    buttons: [
      { action: 'approve', label: 'Approve', style: 'primary', target, nonce },
      { action: 'deny', label: 'Deny', style: 'danger', target, nonce },
    ],
    refs: { approval: target },
  });
}

export function consoleApp(options: { failInbound?: boolean } = {}) {
  let t = Date.UTC(2026, 0, 5, 9, 0, 0);
  const now = () => t;
  const adapter = new ConsoleAdapter({ now, newId: sequentialIds(), capacity: 5 });
  const commands: InboundCommand[] = [];
  const clicks: InboundClick[] = [];
  const inbound: ChatInbound = {
    async command(cmd) {
      if (options.failInbound) throw new Error('database is locked');
      commands.push(cmd);
      return message({ kind: 'reply', title: `ran: ${cmd.text}`, audience: cmd.actor });
    },
    async click(click) {
      clicks.push(click);
      return message({ kind: 'reply', title: `${click.action} ${click.target}`, audience: click.actor });
    },
  };
  const sink = new LogSink();
  const app = new Hono();
  const { sessions } = mountConsole(app, {
    adapter,
    inbound,
    token: TOKEN,
    consoleUser: () => 'console:user:ops',
    allowedHosts: () => defaultAllowedHosts(8787, PUBLIC_URL),
    publicUrl: PUBLIC_URL,
    now,
    log: pino({ level: 'info' }, sink),
    heartbeatMs: 40,
  });
  const request = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    app.request(`http://${HOST}${path}`, { ...init, headers: { host: HOST, ...init.headers } });
  const bearer = { authorization: `Bearer ${TOKEN}` };
  const post = (path: string, body: unknown, headers: Record<string, string> = bearer) =>
    request(path, {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  const login = async () => {
    const res = await request(`/?token=${TOKEN}`);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    return { res, cookie };
  };
  return {
    app,
    adapter,
    commands,
    clicks,
    sink,
    sessions,
    request,
    post,
    bearer,
    login,
    advance: (ms: number) => {
      t += ms;
    },
  };
}
