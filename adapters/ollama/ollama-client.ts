/**
 * The ollama client behind the core's ModelClient. Non-streaming calls of ollama 0.6 take no
 * AbortSignal, so each call gets a client whose `fetch` carries the call's signal: aborting it
 * cancels the HTTP request (and the server's generation) at once, streaming or not.
 */
import { Ollama } from 'ollama';
import {
  ModelCallError,
  type ModelChatRequest,
  type ModelClient,
  type ModelReply,
} from '../../src/llm/types.js';

export interface OllamaClientOptions {
  /** Stream the reply (NDJSON) instead of waiting for one JSON body. Default false. */
  readonly stream?: boolean;
  /** For tests and proxies; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

export function createOllamaClient(options: OllamaClientOptions = {}): ModelClient {
  const baseFetch = options.fetch ?? fetch;
  /** A client for one call: its requests carry the call's signal. */
  const clientFor = (host: string, signal: AbortSignal): Ollama =>
    new Ollama({
      host,
      fetch: (input, init) => {
        const inner = init?.signal;
        return baseFetch(input, { ...init, signal: inner ? AbortSignal.any([inner, signal]) : signal });
      },
    });
  return {
    async probe(host: string, signal: AbortSignal): Promise<string> {
      signal.throwIfAborted();
      try {
        const { version } = await clientFor(host, signal).version();
        return `ollama ${typeof version === 'string' ? version.slice(0, 40) : '(no version)'}`;
      } catch (cause) {
        if (signal.aborted) throw signal.reason ?? cause;
        throw failure(cause, `model server at ${safeHost(host)} did not answer`);
      }
    },
    async chat(request: ModelChatRequest): Promise<ModelReply> {
      const { signal } = request;
      signal.throwIfAborted();
      const client = clientFor(request.host, signal);
      const base = {
        model: request.model,
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        ...(request.format === undefined ? {} : { format: request.format }),
        options: { num_ctx: request.contextTokens, num_predict: request.maxTokens },
      };
      try {
        if (options.stream === true) {
          const parts = await client.chat({ ...base, stream: true });
          const onAbort = (): void => parts.abort();
          signal.addEventListener('abort', onAbort, { once: true });
          try {
            let text = '';
            let promptTokens = 0;
            let completionTokens = 0;
            for await (const part of parts) {
              text += part.message?.content ?? '';
              if (part.done) {
                promptTokens = part.prompt_eval_count ?? 0;
                completionTokens = part.eval_count ?? 0;
              }
            }
            signal.throwIfAborted();
            return { text, promptTokens, completionTokens };
          } finally {
            signal.removeEventListener('abort', onAbort);
          }
        }
        const reply = await client.chat({ ...base, stream: false });
        return {
          text: reply.message?.content ?? '',
          promptTokens: reply.prompt_eval_count ?? 0,
          completionTokens: reply.eval_count ?? 0,
        };
      } catch (cause) {
        if (signal.aborted) throw signal.reason ?? cause;
        throw failure(cause, `model ${request.model} at ${safeHost(request.host)} failed`);
      }
    },
  };
}

/** A ModelCallError saying `what` (with the HTTP status when there was one) and why. */
function failure(cause: unknown, what: string): ModelCallError {
  const status = (cause as { status_code?: unknown }).status_code;
  const code = typeof status === 'number' ? status : null;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ModelCallError(`${what}${code === null ? '' : ` (HTTP ${code})`}: ${why.slice(0, 200)}`, code, {
    cause,
  });
}

/** The host without any user:password in it (errors are read by people and logged). */
function safeHost(host: string): string {
  try {
    return new URL(host).origin;
  } catch {
    return '(an invalid host URL)';
  }
}
