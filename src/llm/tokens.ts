/**
 * Token arithmetic of a model call: the estimate a prompt is sized and reserved by, and what a
 * reply is charged. A reply's counts come from the server, which is not trusted: a call is charged
 * what the server reports, but never more than the prompt estimate plus the `num_predict` it was
 * allowed (so a server claiming 80,000 tokens cannot empty a budget), and a count the server left
 * out is estimated instead of charged as 0.
 */
import type { LlmMessage } from './types.js';

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE = 16;

/** About four characters a token, plus a little per message. */
export function estimateTokens(messages: readonly LlmMessage[]): number {
  let chars = 0;
  for (const m of messages) chars += m.content.length + PER_MESSAGE;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

/** Tokens of a text by the same estimate. */
export function estimateText(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export interface Charged {
  readonly prompt: number;
  readonly completion: number;
}

/** What one reply is charged; see the file comment. */
export function charge(
  reported: { promptTokens: number; completionTokens: number; text: string },
  asked: { promptEstimate: number; maxTokens: number },
): Charged {
  const count = (n: number): number | null => (Number.isFinite(n) && n > 0 ? Math.floor(n) : null);
  const completion = Math.min(
    asked.maxTokens,
    count(reported.completionTokens) ?? estimateText(reported.text),
  );
  const ceiling = asked.promptEstimate + asked.maxTokens;
  const prompt = Math.min(count(reported.promptTokens) ?? asked.promptEstimate, ceiling - completion);
  return { prompt: Math.max(0, prompt), completion };
}
