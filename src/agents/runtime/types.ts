/**
 * The one shape every agent has (DESIGN.md, "Agents"), and what an agent run may use.
 *
 * An agent is rules first: it reads a signal (or runs a sweep), and through its context it posts
 * findings (alerts, suggestions, notices) and proposes catalog actions. It never runs anything
 * itself: `propose()` sends the proposal through decide(), and the pipeline executes, asks for an
 * approval, posts a suggestion or records the denial. It may ask a model (through the router,
 * budgets and caps applied) where that adds value, and read the web through the research tools the
 * policy allows. Everything a model writes and everything in a signal is untrusted data.
 */
import type { CallRequest, CallResult } from '../../llm/router.js';
import type { Decision, Policy } from '../../policy/types.js';
import type { AgentName, Severity, SignalKind } from '../../policy/vocabulary.js';
import type { IncidentChange } from '../../signals/types.js';
import type { HistoryReader } from './history.js';
import type { RecentReader } from './recent.js';

/** A stored signal as an agent sees it. Title and payload are untrusted data. */
export interface AgentSignal {
  readonly id: string;
  readonly kind: SignalKind;
  readonly source: string;
  readonly fingerprint: string;
  readonly title: string;
  readonly service: string | null;
  readonly severity: Severity;
  readonly payload: unknown;
  readonly occurredAt: number | null;
  readonly resolves: boolean;
  /** The incident it opened, updated or resolved (null for signals that correlate to nothing). */
  readonly incident: IncidentChange | null;
}

/** Something an agent wants people to read. Text is data: the pipeline escapes and screens it. */
export interface Finding {
  readonly kind: 'alert' | 'suggestion' | 'notice';
  readonly title: string;
  readonly severity: Severity;
  readonly body: string;
  readonly fields?: readonly { readonly label: string; readonly value: string }[];
  readonly links?: readonly { readonly label: string; readonly url: string }[];
  /**
   * true when a model wrote (part of) the text. With the policy's citation requirement on, a
   * model-written finding is posted only when `citations` names at least one fact of the run's
   * evidence (a fact id the model was shown and cited) or a page that was read.
   */
  readonly modelWritten?: boolean;
  /**
   * What backs a model-written text: fact ids of the run's evidence (`signal:..`, `incident:..`,
   * `past:..`) or URLs of pages read with the research tools.
   */
  readonly citations?: readonly string[];
  /** true when rules wrote it because no model answered (the post says so, small). */
  readonly rulesOnly?: boolean;
}

/** What an agent (or a model through it) may ask for: an action id of the catalog and its params. */
export interface AgentProposal {
  readonly actionId: string;
  /** Unchecked: decide() checks them against the action's param schema. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly rationale?: string;
}

/** What became of a proposal. */
export interface ProposalOutcome {
  readonly decision: Decision;
  /** When it executed: the run and how it ended. */
  readonly run?: {
    readonly runId: string;
    readonly status: 'succeeded' | 'failed' | 'interrupted' | 'skipped';
    readonly outcome: string;
    readonly exitCode: number | null;
    readonly wallMs: number;
    /** The last lines of output (redacted), for evidence. */
    readonly outputTail: string;
  };
  /** When it waits for a person: the approval's short id (`a12`). */
  readonly approval?: string;
}

/** A page read with the research tools. Its text is untrusted data. */
export interface ResearchPage {
  readonly url: string;
  readonly status: number;
  readonly title: string | null;
  readonly text: string;
  readonly truncated: boolean;
}

export interface ResearchHit {
  readonly url: string;
  readonly title: string;
  readonly snippet: string;
}

/** The read-only research tools the policy allows this agent (src/research/). */
export interface ResearchTools {
  /** Which tools are on for this agent (policy `research.tools` and a non-empty domain list). */
  readonly tools: ReadonlySet<'web_fetch' | 'web_search' | 'browser'>;
  /** GET (or HEAD) an allowlisted page as text. Rejects with a ResearchError saying why not. */
  fetch(url: string, options?: { method?: 'GET' | 'HEAD'; signal?: AbortSignal }): Promise<ResearchPage>;
  /** Search through the configured endpoint; only allowlisted hosts come back. */
  search(query: string, options?: { signal?: AbortSignal }): Promise<ResearchHit[]>;
  /** Render a page that needs JavaScript in the read-only browser. */
  browse(url: string, options?: { signal?: AbortSignal }): Promise<ResearchPage>;
  /** Every page read so far in this run (the run's citations). */
  cited(): readonly string[];
}

export interface AgentLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Everything an agent run may use. One context per run. */
export interface AgentContext {
  readonly agent: AgentName;
  readonly runId: string;
  /** The policy in force when the run started. */
  readonly policy: Policy;
  readonly now: () => number;
  /** Aborted when the agent is killed or the bot stops: stop work and return. */
  readonly signal: AbortSignal;
  /** The trigger: `signal:<kind>`, `sweep:light`, `sweep:deep`. */
  readonly trigger: string;
  /** The agent's own folder in the data folder (created on first use): baselines, drafts. */
  readonly dataDir: string;
  /** The bot's data folder (runbooks and skills live under it). */
  readonly rootDataDir: string;
  readonly log: AgentLog;
  /**
   * Ask a model through the router (kill switch, budgets, caps, timeout, schema check). Tokens are
   * charged to this run. A failure is a result (`ok: false`): go on with rules.
   */
  model<T>(request: Omit<CallRequest<T>, 'runId' | 'signal'>): Promise<CallResult<T>>;
  /** null when the policy gives this agent no research tools. */
  readonly research: ResearchTools | null;
  /** Sends a proposal through decide() and acts on the verdict; resolves when that is done. */
  propose(proposal: AgentProposal): Promise<ProposalOutcome>;
  /** Posts a finding to the channels routing names for this agent and its severity. */
  post(finding: Finding): void;
  /** Adds an evidence link or id to the run record (`signal:<id>`, `incident:<id>`, a URL, a file). */
  evidence(ref: string): void;
  /** The team's history: past incidents like this one and how they ended (absent: none known). */
  readonly history?: HistoryReader;
  /** What happened lately: CI failures and job events, incidents, the agent's own runs (absent: nothing known). */
  readonly recent?: RecentReader;
  /** Audits a model proposal refused before decide() (another agent's action, a tier, bad params...). */
  refused?(refusal: { readonly what: string; readonly reason: string }): void;
}

/** What kind of change wakes an agent (see `Agent.wakesOn`). */
export type JobWake = 'new' | 'resolved';

export interface Agent {
  readonly name: AgentName;
  /** Signal kinds this agent handles (the policy's `triggers.events` decides which arrive). */
  readonly handles: readonly SignalKind[];
  /**
   * Which jobs of its kinds wake it: `new` (a signal opened or reopened an incident, joined none, or
   * a health probe got worse) and `resolved` (an incident resolved). Default `['new']`; mentor
   * drafts runbooks from resolutions only, so an opened incident raises no mentor job (and no run).
   */
  readonly wakesOn?: readonly JobWake[];
  onSignal?(signal: AgentSignal, ctx: AgentContext): Promise<void>;
  /** The light sweep's checks (every few minutes). */
  light?(ctx: AgentContext): Promise<void>;
  /** The deep sweep's checks (every few hours). */
  deep?(ctx: AgentContext): Promise<void>;
}
