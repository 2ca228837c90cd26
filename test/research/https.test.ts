/**
 * web_fetch over HTTPS against a local server whose certificate no CA vouches for (the fixture in
 * test/fixtures/tls, made once with openssl for *.example.test, valid for 100 years). Research
 * verifies certificates like any client: the page is refused before a request is sent, and says
 * why. The connection is pinned to the address the guard checked, yet the TLS server name is the
 * URL's host (so a real site gets the right certificate).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResearchError } from '../../src/research/errors.js';
import { createResearch } from '../../src/research/index.js';
import { researchPolicy, testResolver } from '../helpers/research-site.js';

const tls = new URL('../fixtures/tls/', import.meta.url);
const key = readFileSync(new URL('self-signed.key', tls));
const cert = readFileSync(new URL('self-signed.crt', tls));

let server: Server;
let port: number;
const serverNames: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  server = createServer(
    {
      key,
      cert,
      SNICallback: (name, done) => {
        serverNames.push(name);
        done(null, createSecureContext({ key, cert }));
      },
    },
    (req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('secret advisory text');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

describe('web_fetch over HTTPS', () => {
  it('refuses a page whose certificate no CA vouches for, says why, and sends no request', async () => {
    const resolve = testResolver();
    const research = createResearch({
      policy: researchPolicy(),
      agent: 'guardian',
      resolve,
      chromiumPath: null,
    });
    if (research === null) throw new Error('expected research tools');
    const url = `https://docs.example.test:${port}/advisory`;
    const error = await research.fetch(url).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ResearchError);
    expect((error as ResearchError).code).toBe('network');
    expect((error as ResearchError).message).toBe(
      `reading ${url} failed: the site's certificate is not trusted (self-signed certificate); research ` +
        'reads only pages whose certificate a trusted CA vouches for (a private CA can be added with NODE_EXTRA_CA_CERTS)',
    );
    // Resolved once by the guard and connected to that address, with the URL's host as the TLS
    // server name; the handshake failed before any HTTP request, so nothing was read or cited.
    expect(resolve.calls).toEqual(['docs.example.test']);
    expect(serverNames).toEqual(['docs.example.test']);
    expect(requests).toEqual([]);
    expect(research.cited()).toEqual([]);
  });
});
