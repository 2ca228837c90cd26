/**
 * Shared setup for the approval, grant and escalation tests: a real SQLite file in a temp folder,
 * a message sink that writes outbox rows in the caller's transaction (so a rollback drops them,
 * as the real outbox does), and an action executor that records every call and writes a run row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { Approvals, type ApprovalsOptions } from '../../src/actions/approvals/approvals.js';
import type { ExecutionRequest, ExecutionResult, MessageSink } from '../../src/actions/approvals/ports.js';
import { Grants } from '../../src/actions/grants.js';
import { AuditLog } from '../../src/audit/log.js';
import { ButtonKey } from '../../src/chat/button-key.js';
import { type ChatMessage, messageSchema } from '../../src/chat/message.js';
import { ControlStore } from '../../src/control/state.js';
import { type Database, migrate, openDatabase } from '../../src/db/connection.js';
import { outbox, runs } from '../../src/db/schema.js';
import { decide } from '../../src/policy/decide.js';
import type { CompiledAction, Decision, Params, Policy, Proposal } from '../../src/policy/types.js';
import { makeState } from '../fixtures/policy.js';

export const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
export const APPROVER = 'slack:user:U0APPROVER';
export const OPERATOR = 'slack:user:U0OPERATOR';
export const SECRET = 'test-secret-0123456789abcdef';

export interface SentMessage {
  readonly id: number;
  readonly channel: string;
  readonly dedupeKey: string;
  readonly op: 'post' | 'update';
  readonly updateOf: number | null;
  readonly message: ChatMessage;
}

/** Writes outbox rows (validated like the real outbox) inside whatever transaction is open. */
export class TableSink implements MessageSink {
  constructor(private readonly database: Database) {}

  enqueue(
    channel: string,
    msg: ChatMessage,
    options: { dedupeKey: string; op?: 'post' | 'update'; updateOf?: number },
  ): { id: number } {
    const parsed = messageSchema.parse(msg);
    const db = this.database.db;
    const existing = db.select().from(outbox).where(eq(outbox.dedupeKey, options.dedupeKey)).get();
    if (existing !== undefined) return { id: existing.id };
    const row = db
      .insert(outbox)
      .values({
        channel,
        dedupeKey: options.dedupeKey,
        op: options.op ?? 'post',
        updateOf: options.updateOf ?? null,
        message: parsed,
        nextAttemptAt: 0,
        createdAt: 0,
      })
      .returning()
      .get();
    return { id: row.id };
  }

  all(): SentMessage[] {
    return this.database.db
      .select()
      .from(outbox)
      .orderBy(asc(outbox.id))
      .all()
      .map((r) => ({
        id: r.id,
        channel: r.channel,
        dedupeKey: r.dedupeKey,
        op: r.op,
        updateOf: r.updateOf,
        message: r.message as ChatMessage,
      }));
  }

  posts(): SentMessage[] {
    return this.all().filter((m) => m.op === 'post');
  }

  /** The latest update of outbox row `id`, or null. */
  latestUpdate(id: number): SentMessage | null {
    return (
      this.all()
        .filter((m) => m.op === 'update' && m.updateOf === id)
        .at(-1) ?? null
    );
  }
}

/** Records every call; writes a run row so approvals.run_id can point at it. */
export class FakeExecutor {
  readonly calls: ExecutionRequest[] = [];
  /** When set, execute() waits for it (to catch an approval mid-run). */
  gate: Promise<void> | null = null;
  result: Omit<ExecutionResult, 'runId'> = { status: 'succeeded', outcome: 'exit 0' };

  constructor(
    private readonly database: Database,
    private readonly now: () => number,
  ) {}

  async execute(request: ExecutionRequest): Promise<ExecutionResult> {
    this.calls.push(request);
    const runId = `run_${this.calls.length}_${request.approvalId}`;
    this.database.db
      .insert(runs)
      .values({
        id: runId,
        agent: request.proposal.agent,
        triggerSource: request.trigger.source,
        triggerRef: request.trigger.ref,
        actionId: request.action.id,
        verdict: request.decision.verdict,
        startedAt: this.now(),
        status: 'running',
      })
      .run();
    if (this.gate !== null) await this.gate;
    return { ...this.result, runId };
  }
}

/** `systemctl restart web`: the argv or METHOD URL with params filled, as render.ts will show it. */
export function describeFake(action: CompiledAction, params: Params): string {
  const fill = (s: string) => s.replace(/\{([a-zA-Z0-9_]+)\}/g, (_, k: string) => String(params[k]));
  const ex = action.doc.executor;
  if ('builtin' in ex) return `builtin ${ex.builtin}`;
  return 'command' in ex ? ex.command.map(fill).join(' ') : `${ex.http.method} ${fill(ex.http.url)}`;
}

export interface Kit {
  readonly dir: string;
  readonly file: string;
  clock: number;
  policy: Policy;
  /** A fresh connection (another process's view of the same file). */
  connect(overrides?: Partial<ApprovalsOptions>): Node;
  cleanup(): void;
}

export interface Node {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly control: ControlStore;
  readonly sink: TableSink;
  readonly executor: FakeExecutor;
  readonly grants: Grants;
  readonly approvals: Approvals;
  readonly key: ButtonKey;
}

export function makeKit(policy: Policy): Kit {
  const dir = mkdtempSync(join(tmpdir(), 'autonomy-approvals-'));
  const file = join(dir, 'autonomy.db');
  const open: Database[] = [];
  const kit: Kit = {
    dir,
    file,
    clock: T0,
    policy,
    connect(overrides = {}) {
      const database = openDatabase(file);
      migrate(database);
      open.push(database);
      const now = () => kit.clock;
      const audit = new AuditLog(database, { now });
      const control = new ControlStore(database, audit, { now });
      const sink = new TableSink(database);
      const executor = new FakeExecutor(database, now);
      const key = new ButtonKey(SECRET);
      let n = 0;
      const newId = (prefix: string) =>
        `${prefix}_${open.length}_${++n}_${Math.random().toString(36).slice(2, 8)}`;
      const base = {
        database,
        audit,
        now,
        newId,
        policy: () => kit.policy,
        controlState: () => control.snapshot(),
      };
      const grants = new Grants(base);
      const approvals = new Approvals({
        ...base,
        messages: sink,
        executor,
        describe: describeFake,
        key,
        grants,
        ...overrides,
      });
      return { database, audit, control, sink, executor, grants, approvals, key };
    },
    cleanup() {
      for (const d of open.splice(0)) d.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return kit;
}

/** decide() for a proposal as an agent would call it before asking (no authorisation yet). */
export function decideNow(policy: Policy, proposal: Proposal, now: number): Decision {
  return decide(policy, makeState(), proposal, now);
}

export const RESTART_WEB: Proposal = {
  agent: 'sentinel',
  actionId: 'restart-service',
  params: { service: 'web' },
  rationale: 'web returns 502 since 08:55; the last deploy did not fix it',
};
