/**
 * A local web site for the research tests: one HTTP server on 127.0.0.1 (port 0) that answers any
 * host name it is reached under (the tests' resolver maps `*.example.test` to 127.0.0.1) and logs
 * every request it sees, WebSocket upgrades included, so a test can assert what never arrived.
 * Also the policy and resolver those tests share.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResearchTools } from '../../src/agents/runtime/types.js';
import type { Resolve } from '../../src/research/address-guard.js';
import { createResearch, type ResearchOptions } from '../../src/research/index.js';
import { makePolicy, type PolicyInput } from '../fixtures/policy.js';

export interface SeenRequest {
  readonly method: string;
  /** The Host header without the port. */
  readonly host: string;
  /** Path and query. */
  readonly path: string;
  readonly upgrade: boolean;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

export interface Site {
  readonly port: number;
  readonly seen: SeenRequest[];
  /** `http://<host>:<port><path>`. */
  url(host: string, path: string): string;
  /** Answers `path` (without query) on every host. Unrouted paths get 404. */
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startSite(): Promise<Site> {
  const routes = new Map<string, Handler>();
  const seen: SeenRequest[] = [];
  const record = (req: IncomingMessage, upgrade: boolean) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    seen.push({ method: req.method ?? '', host, path: req.url ?? '', upgrade });
  };
  const server: Server = createServer((req, res) => {
    record(req, false);
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const handler = routes.get(url.pathname);
    if (handler === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    handler(req, res, url);
  });
  server.on('upgrade', (req, socket) => {
    record(req, true);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    url: (host, path) => `http://${host}:${port}${path}`,
    route: (path, handler) => void routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function html(body: string, title = 'A page'): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><title>${title}</title></head><body>${body}</body></html>`);
  };
}

/** Every `*.example.test` name resolves to the local site; `overrides` maps names to other addresses. */
export function testResolver(
  overrides: Record<string, readonly string[]> = {},
): Resolve & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    const mapped = overrides[host];
    if (mapped !== undefined) return mapped;
    if (host === 'example.test' || host.endsWith('.example.test')) return ['127.0.0.1'];
    throw new Error(`getaddrinfo ENOTFOUND ${host}`);
  };
  return Object.assign(resolve, { calls });
}

export type ResearchInput = NonNullable<PolicyInput['research']>;

/**
 * A policy whose guardian may read docs.example.test and *.wiki.example.test with every tool; the
 * local site is on loopback, so private addresses are allowed unless `research` says otherwise.
 */
export function researchPolicy(research: Partial<ResearchInput> = {}) {
  return makePolicy({
    edit: (doc) => {
      doc.research = {
        tools: ['web_fetch', 'web_search', 'browser'],
        prohibited: ['posting', 'account-actions', 'submissions'],
        domains: { guardian: ['docs.example.test', '*.wiki.example.test'] },
        allowPrivateAddresses: true,
        citations: true,
        maxBytes: 200_000,
        timeout: '10s',
        ...research,
      };
    },
  });
}

/** guardian's research tools under `researchPolicy(research)`, resolving with `testResolver()`. */
export function researchTools(
  chromiumPath: string | null,
  research: Partial<ResearchInput> = {},
  options: Partial<ResearchOptions> = {},
): ResearchTools {
  const made = createResearch({
    policy: researchPolicy(research),
    agent: 'guardian',
    resolve: testResolver(),
    chromiumPath,
    ...options,
  });
  if (made === null) throw new Error('expected research tools');
  return made;
}
