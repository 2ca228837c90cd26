/**
 * What one agent run has done so far, kept in memory while it runs: its evidence, what it posted,
 * held back or withheld, what became of each proposal, and the model it used. At the end this
 * becomes the run's outcome, a sentence a person can read ("posted 1 alert; proposed
 * restart-service: waiting for approval a3"), and its headline class and tier.
 */
import type { Decision } from '../../policy/types.js';
import type { ActionClass, AgentName, Verdict } from '../../policy/vocabulary.js';
import type { Headline } from './run-record.js';

const MAX_EVIDENCE = 200;
const MAX_EVIDENCE_CHARS = 2000;
const MAX_NOTES = 12;
const MAX_OUTCOME = 1500;

/** Higher says more about a run. */
const RANK: Record<Verdict, number> = { execute: 5, ask: 4, suggest: 3, observe: 2, deny: 1 };

export interface ProposalNote {
  readonly proposalId: string | null;
  readonly actionId: string;
  readonly verdict: Verdict;
  readonly code: string;
  readonly tier: number | null;
  readonly runId?: string;
  readonly approval?: string;
}

export class RunState {
  readonly controller = new AbortController();
  readonly evidence = new Set<string>();
  readonly proposals: ProposalNote[] = [];
  /** The model of the last successful call, if any. */
  model: { name: string; provider: string } | null = null;
  /** Why the run was stopped (kill, shutdown, its sweep was aborted), once it was. */
  stoppedBy: string | null = null;
  /** Posts queued so far (the index of the next one, for its dedupe key). */
  postIndex = 0;
  private readonly posted = new Map<string, number>();
  private readonly notes: string[] = [];
  private headlineRank = 0;
  headline: Headline | null = null;

  constructor(
    readonly runId: string,
    readonly agent: AgentName,
    readonly startedAt: number,
  ) {}

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  addEvidence(ref: unknown): void {
    if (typeof ref !== 'string' || ref === '' || this.evidence.size >= MAX_EVIDENCE) return;
    this.evidence.add(ref.length > MAX_EVIDENCE_CHARS ? ref.slice(0, MAX_EVIDENCE_CHARS) : ref);
  }

  /** A finding (or result notice) was queued to at least one channel. */
  countPost(kind: string): void {
    this.posted.set(kind, (this.posted.get(kind) ?? 0) + 1);
  }

  note(text: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(text);
    else if (this.notes.length === MAX_NOTES) this.notes.push('more not listed here');
  }

  decided(note: ProposalNote, decision: Decision, actionClass: ActionClass | null, sentence: string): void {
    this.proposals.push(note);
    this.note(sentence);
    const rank = RANK[decision.verdict] * 10 + (decision.tier ?? 0);
    if (actionClass !== null && rank > this.headlineRank) {
      this.headlineRank = rank;
      this.headline = { actionClass, tier: decision.tier, verdict: decision.verdict };
    }
  }

  /** The outcome sentence; `lead` (a failure or stop) comes first. */
  outcome(lead: string | null): string {
    const parts: string[] = [];
    if (lead !== null) parts.push(lead);
    const posts = [...this.posted].map(([kind, n]) => `${n} ${kind}${n === 1 ? '' : 's'}`);
    if (posts.length > 0) parts.push(`posted ${posts.join(', ')}`);
    parts.push(...this.notes);
    if (parts.length === 0) parts.push('nothing to report');
    const text = parts.join('; ');
    return text.length > MAX_OUTCOME ? `${text.slice(0, MAX_OUTCOME - 1)}…` : text;
  }
}
