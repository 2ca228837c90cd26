/**
 * The Web API client's `fetch`, on undici's `request`. The client makes one kind of call (a POST of
 * a form, or of a multipart form for files) and reads a response's status, headers and body once;
 * Node's `fetch` builds WHATWG streams and Request/Response objects around every call for that, and
 * costs ~0.6 ms more CPU per post than the request itself (a card on every new incident, a reply on
 * every triage: in a burst of alerts, those are what the last card waits for).
 *
 * What the client reads of a response is all there: `status`, `statusText`, `url`, `headers` (`get`,
 * `entries`), and the body as `text()`, `json()` or `arrayBuffer()`, read whole before the call
 * resolves (Slack's answers are small). `redirect: 'error'` holds by construction: `request`
 * follows no redirect, and the client treats any status but 200 and 429 as an error. The client's
 * timeout arrives as `signal` and aborts the request.
 */
import { STATUS_CODES } from 'node:http';
import { type Dispatcher, request, FormData as UndiciFormData } from 'undici';

type RequestBody = Dispatcher.RequestOptions['body'];

/**
 * The body as undici sends it. A file upload's form is Node's own FormData, which undici 7 does not
 * take for a form (it checks the class, and Node's comes from another copy of undici): without this
 * the upload fails ("action is not a function"). It is copied into undici's FormData, fields and
 * files alike, and goes out as multipart whichever copy of undici the global dispatcher is.
 */
function bodyOf(body: RequestInit['body']): RequestBody {
  if (!(body instanceof FormData)) return (body ?? null) as RequestBody;
  const form = new UndiciFormData();
  for (const [name, value] of body.entries()) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, value, value.name);
  }
  return form as RequestBody;
}

export const slackFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'POST',
    headers: init.headers as Record<string, string> | undefined,
    body: bodyOf(init.body),
    signal: init.signal ?? undefined,
  });
  // Read whole at once: a response the client does not read (a 429) must not hold its connection.
  const body = Buffer.from(await res.body.arrayBuffer());
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return {
    ok: res.statusCode >= 200 && res.statusCode < 300,
    status: res.statusCode,
    statusText: STATUS_CODES[res.statusCode] ?? '',
    url,
    headers,
    text: async () => body.toString('utf8'),
    json: async () => JSON.parse(body.toString('utf8')),
    arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
  } as unknown as Response;
}) as typeof fetch;
