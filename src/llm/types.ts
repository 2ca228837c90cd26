/**
 * What the core asks of a model server (src/ never imports `ollama`; adapters/ollama/ implements
 * this). One chat call, abortable by `signal`, answering with the text and the token counts the
 * server reported.
 */
import { AutonomyError } from '../process/errors.js';

export interface LlmMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface ModelChatRequest {
  /** Base URL of the model server, e.g. http://127.0.0.1:11434. */
  readonly host: string;
  readonly model: string;
  readonly messages: readonly LlmMessage[];
  /** JSON Schema the reply must follow (structured output). */
  readonly format?: Record<string, unknown>;
  /** The model's context size (Ollama `num_ctx`): without it Ollama cuts the prompt at its own default. */
  readonly contextTokens: number;
  /** The most tokens the reply may have (Ollama `num_predict`). */
  readonly maxTokens: number;
  readonly signal: AbortSignal;
}

export interface ModelReply {
  /** The model's text: untrusted data. */
  readonly text: string;
  /** prompt_eval_count (0 when the server did not report it). */
  readonly promptTokens: number;
  /** eval_count (0 when the server did not report it). */
  readonly completionTokens: number;
}

export interface ModelClient {
  /** Rejects on transport errors, error statuses and aborts (with `signal.reason` when aborted). */
  chat(request: ModelChatRequest): Promise<ModelReply>;
  /**
   * Asks the server at `host` whether it is up (Ollama: GET /api/version) and resolves with what it
   * says it is; rejects (a ModelCallError) when it cannot be reached or answers with an error.
   */
  probe?(host: string, signal: AbortSignal): Promise<string>;
}

/** A model server said no (HTTP status) or could not be reached; never carries secrets. */
export class ModelCallError extends AutonomyError {
  readonly status: number | null;
  constructor(message: string, status: number | null, options?: ErrorOptions) {
    super('MODEL_CALL_FAILED', message, { cause: options?.cause });
    this.status = status;
  }
}
