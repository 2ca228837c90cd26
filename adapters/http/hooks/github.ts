/**
 * POST /hooks/github: GitHub webhooks, verified with X-Hub-Signature-256 (HMAC-SHA256 of the raw
 * body with GITHUB_WEBHOOK_SECRET, constant-time compare) before anything is parsed. Without the
 * secret the hook is off (503): it never accepts an unsigned delivery. Content type
 * application/json or application/x-www-form-urlencoded (GitHub's default, `payload=<json>`).
 * `ping` is answered; other events are mapped by src/signals/normalise/github.ts (advisories matched
 * against the inventory the policy names), or accepted and ignored with the reason. A delivery
 * (X-GitHub-Delivery) is stored once, however often it comes.
 */
import type { Inventory } from '../../../src/signals/advisories/inventory.js';
import { normaliseGithub } from '../../../src/signals/normalise/github.js';
import { githubSignatureMatches } from './auth.js';
import { mediaType, parseJson, readBody } from './body.js';
import type { HookDeps, HookHandler } from './deps.js';
import { accept, reject, summarise } from './reply.js';

const HOOK = 'github';
const EVENT = /^[a-z0-9_]{1,64}$/;
const DELIVERY = /^[A-Za-z0-9._:-]{1,128}$/;
const FORM = 'application/x-www-form-urlencoded';

export const GITHUB_OFF_MESSAGE =
  'GitHub webhooks are off: set GITHUB_WEBHOOK_SECRET to the secret of the webhook and restart';
export const BAD_SIGNATURE_MESSAGE =
  'signature does not match: check that the webhook secret in GitHub equals GITHUB_WEBHOOK_SECRET';

export function githubHandler(deps: HookDeps, inventory: () => Inventory): HookHandler {
  const o = { counters: deps.counters, hook: HOOK };
  return async (c) => {
    const secret = deps.githubSecret;
    if (secret === null || secret === '') {
      return reject(c, deps.counters, HOOK, 'not_configured', 503, GITHUB_OFF_MESSAGE);
    }
    const type = mediaType(c);
    if (type !== 'application/json' && type !== FORM) {
      return reject(
        c,
        deps.counters,
        HOOK,
        'unsupported_media_type',
        415,
        `unsupported Content-Type "${(type ?? '').slice(0, 100)}": set the webhook's content type to application/json`,
      );
    }
    const body = await readBody(c, o);
    if (!body.ok) return body.response;
    if (!githubSignatureMatches(secret, body.value.bytes, c.req.header('x-hub-signature-256'))) {
      return reject(c, deps.counters, HOOK, 'bad_signature', 401, BAD_SIGNATURE_MESSAGE);
    }
    const event = c.req.header('x-github-event') ?? '';
    const delivery = c.req.header('x-github-delivery') ?? '';
    if (!EVENT.test(event) || !DELIVERY.test(delivery)) {
      return reject(
        c,
        deps.counters,
        HOOK,
        'bad_request',
        400,
        'missing or malformed X-GitHub-Event or X-GitHub-Delivery header: is this a GitHub webhook?',
      );
    }
    let text = body.value.text;
    if (type === FORM) {
      const payload = new URLSearchParams(text).get('payload');
      if (payload === null) {
        return reject(c, deps.counters, HOOK, 'bad_json', 400, 'form body without a "payload" field');
      }
      text = payload;
    }
    const json = parseJson(c, o, text);
    if (!json.ok) return json.response;
    if (event === 'ping') {
      deps.counters.accepted(HOOK, { stored: 0, duplicates: 0, ignored: 1 });
      return c.json({ ok: true, message: 'pong: the signature matches; this bot is listening' }, 200);
    }
    const normalised = normaliseGithub(event, delivery, json.value, deps.now(), inventory);
    if (!normalised.ok) {
      return reject(c, deps.counters, HOOK, 'bad_schema', 400, `not a ${event} payload GitHub would send`, {
        problems: normalised.problems,
      });
    }
    const { signals, ignored } = normalised.value;
    if (ignored !== null) {
      return accept(c, deps.counters, HOOK, { accepted: 0, duplicates: 0, incidents: [] }, { ignored }, 1);
    }
    const outcomes = await deps.sink.ingestBatched(signals);
    return accept(c, deps.counters, HOOK, summarise(outcomes), { ignored: null });
  };
}
