/**
 * A fake AgentContext for unit tests of one agent: it records what the agent posted, proposed and
 * cited, and answers proposals and model calls from a script. The real one is built by the agent
 * pipeline (src/agents/runtime/pipeline.ts), which the pipeline's own tests cover.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecentReader } from '../../src/agents/runtime/recent.js';
import type {
  AgentContext,
  AgentProposal,
  AgentSignal,
  Finding,
  ProposalOutcome,
  ResearchTools,
} from '../../src/agents/runtime/types.js';
import type { CallRequest, CallResult } from '../../src/llm/router.js';
import type { Decision, Policy } from '../../src/policy/types.js';
import type { AgentName } from '../../src/policy/vocabulary.js';

export interface FakeContextOptions {
  readonly agent: AgentName;
  readonly policy: Policy;
  readonly now?: () => number;
  readonly trigger?: string;
  /** Answers each proposal; default: decide says suggest (nothing runs). */
  readonly onPropose?: (p: AgentProposal) => ProposalOutcome | Promise<ProposalOutcome>;
  /** Answers each model call; default: no model reachable. */
  readonly onModel?: (r: Omit<CallRequest<unknown>, 'runId' | 'signal'>) => CallResult<unknown>;
  readonly research?: ResearchTools | null;
  /** The data folder (default: a new temp folder). */
  readonly rootDataDir?: string;
  readonly signal?: AbortSignal;
  /** What happened lately (default: none). */
  readonly recent?: RecentReader;
}

export interface FakeContext extends AgentContext {
  readonly posts: Finding[];
  readonly proposals: AgentProposal[];
  readonly evidenceRefs: string[];
  readonly modelCalls: Omit<CallRequest<unknown>, 'runId' | 'signal'>[];
}

export const SUGGESTED: Decision = {
  verdict: 'suggest',
  code: 'suggest-phase',
  tier: 2,
  phase: 2,
  reason: 'phase 2 (suggest-only): posted as a suggestion',
};

export function fakeContext(o: FakeContextOptions): FakeContext {
  const root = o.rootDataDir ?? mkdtempSync(join(tmpdir(), 'autonomy-agent-'));
  const dataDir = join(root, 'agents', o.agent);
  mkdirSync(dataDir, { recursive: true });
  const posts: Finding[] = [];
  const proposals: AgentProposal[] = [];
  const evidenceRefs: string[] = [];
  const modelCalls: Omit<CallRequest<unknown>, 'runId' | 'signal'>[] = [];
  return {
    agent: o.agent,
    runId: 'run-test-1',
    policy: o.policy,
    now: o.now ?? (() => Date.parse('2026-12-01T10:00:00Z')),
    signal: o.signal ?? new AbortController().signal,
    trigger: o.trigger ?? 'signal:alert',
    dataDir,
    rootDataDir: root,
    log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    research: o.research ?? null,
    ...(o.recent === undefined ? {} : { recent: o.recent }),
    posts,
    proposals,
    evidenceRefs,
    modelCalls,
    async model<T>(request: Omit<CallRequest<T>, 'runId' | 'signal'>): Promise<CallResult<T>> {
      modelCalls.push(request as Omit<CallRequest<unknown>, 'runId' | 'signal'>);
      if (o.onModel === undefined)
        return { ok: false, reason: 'unavailable', detail: 'no model in this test' };
      return o.onModel(request as Omit<CallRequest<unknown>, 'runId' | 'signal'>) as CallResult<T>;
    },
    async propose(p: AgentProposal): Promise<ProposalOutcome> {
      proposals.push(p);
      return o.onPropose ? await o.onPropose(p) : { decision: SUGGESTED };
    },
    post(f: Finding): void {
      posts.push(f);
    },
    evidence(ref: string): void {
      evidenceRefs.push(ref);
    },
  };
}

/** A signal as the pipeline hands it to an agent. */
export function agentSignal(over: Partial<AgentSignal> & Pick<AgentSignal, 'kind'>): AgentSignal {
  return {
    id: 'sig-1',
    source: 'test',
    fingerprint: `${over.kind}:test`,
    title: 'a test signal',
    service: null,
    severity: 'warning',
    payload: {},
    occurredAt: null,
    resolves: false,
    incident: null,
    ...over,
  };
}

/** An `onModel` that answers every call with `value` (as a checked reply would come back). */
export function answering(value: unknown, model = 'qwen2.5:7b'): NonNullable<FakeContextOptions['onModel']> {
  return () => ({
    ok: true,
    value,
    text: JSON.stringify(value),
    model,
    tokens: { prompt: 300, completion: 40 },
  });
}

/** The facts a model call was shown (the JSON data block of its last message), id and text. */
export function shownFacts(
  call: { messages: readonly { content: string }[] } | undefined,
): { id: string; text: string }[] {
  const data = call?.messages.at(-1)?.content ?? '';
  if (!data.startsWith('<facts>\n') || !data.endsWith('\n</facts>')) return [];
  return JSON.parse(data.slice('<facts>\n'.length, -'\n</facts>'.length)) as { id: string; text: string }[];
}
