/**
 * `autonomy signatures`: log lines (or bare messages) in, one JSON line out per input line:
 * `{"line":1,"signature":"s_...","template":"..."}`, so the grouping can be checked from outside.
 *
 * Lines are mined as they arrive; the output is written in batches (every `batchLines` lines, at the
 * end of the input, or when the input pauses for `idleFlushMs`), each line with the signature its
 * template answers to at that moment: when templates merged within a batch (a user name seen for
 * the third time makes that position a variable), the lines mined before the merge carry the
 * merged signature too. Any bytes are accepted: invalid UTF-8 becomes U+FFFD, an empty line gets the
 * empty template's signature, a line longer than `maxLineChars` is cut there.
 */
import { SignatureMiner } from './miner.js';

export interface RunSignaturesOptions {
  /** Lines held before the output is written. Default 50,000. */
  readonly batchLines?: number;
  /** Write what is held when no input came for this long (interactive use). Default 250; 0 = never. */
  readonly idleFlushMs?: number;
  /** Characters of one line kept; the rest of the line is ignored. Default 65,536. */
  readonly maxLineChars?: number;
}

interface Pending {
  readonly line: number;
  readonly signature: string;
  readonly template: string;
}

export async function runSignatures(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  miner: SignatureMiner = new SignatureMiner(),
  options: RunSignaturesOptions = {},
): Promise<{ lines: number; templates: number }> {
  const batchLines = Math.max(1, options.batchLines ?? 50_000);
  const idleFlushMs = options.idleFlushMs ?? 250;
  const maxLineChars = Math.max(1, options.maxLineChars ?? 65_536);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let pending: Pending[] = [];
  let lines = 0;
  let partial = '';
  let skipping = false; // inside the ignored tail of an over-long line
  let timer: NodeJS.Timeout | null = null;

  const render = (batch: readonly Pending[]): string => {
    let out = '';
    for (const p of batch) {
      const live = miner.resolve(p.signature);
      const signature = live ?? p.signature;
      const template = live === null ? p.template : (miner.templateOf(live) ?? p.template);
      out += `${JSON.stringify({ line: p.line, signature, template })}\n`;
    }
    return out;
  };
  const flushNow = (): string => {
    const text = render(pending);
    pending = [];
    return text;
  };
  const write = async (text: string): Promise<void> => {
    if (text === '' || output.write(text)) return;
    await new Promise<void>((resolve) => output.once('drain', resolve));
  };
  const mine = (text: string): void => {
    lines += 1;
    const message = text.endsWith('\r') ? text.slice(0, -1) : text;
    const m = miner.add(message);
    pending.push({ line: lines, signature: m.signature, template: m.template });
  };

  try {
    for await (const chunk of input) {
      if (timer !== null) clearTimeout(timer);
      const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        const piece = nl < 0 ? text.slice(start) : text.slice(start, nl);
        if (!skipping) {
          partial += piece;
          if (partial.length > maxLineChars) {
            partial = partial.slice(0, maxLineChars);
            skipping = true;
          }
        }
        if (nl < 0) break;
        mine(partial);
        partial = '';
        skipping = false;
        start = nl + 1;
        if (pending.length >= batchLines) await write(flushNow());
      }
      if (idleFlushMs > 0 && pending.length > 0) {
        timer = setTimeout(() => {
          timer = null;
          output.write(flushNow());
        }, idleFlushMs);
      }
    }
    if (timer !== null) clearTimeout(timer);
    const tail = decoder.decode();
    if (!skipping) partial += tail;
    if (partial.length > 0) mine(partial.slice(0, maxLineChars));
    await write(flushNow());
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
  return { lines, templates: miner.size };
}
