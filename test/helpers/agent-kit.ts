/**
 * Shared setup for the agent pipeline suites: a real SQLite file, the real core (createCore: runner,
 * approvals, grants, outbox, mutes, signals), an AgentPipeline over it wired as src/main.ts wires it,
 * a settable clock and policy, harmless command actions, and readers for the rows a test checks.
 */
import { join } from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { createOllamaClient } from '../../adapters/ollama/ollama-client.js';
import { AgentPipeline, type AgentPipelineDeps } from '../../src/agents/runtime/pipeline.js';
import type { Agent, AgentContext } from '../../src/agents/runtime/types.js';
import { AuditLog } from '../../src/audit/log.js';
import type { ChatMessage } from '../../src/chat/message.js';
import { ControlStore, isKilled } from '../../src/control/state.js';
import { type Core, createCore } from '../../src/core.js';
import { auditLog, outbox, proposals, runs } from '../../src/db/schema.js';
import { ModelRouter } from '../../src/llm/router.js';
import { SqliteUsage } from '../../src/llm/usage.js';
import type { Policy } from '../../src/policy/types.js';
import type { AgentName, SignalKind } from '../../src/policy/vocabulary.js';
import { loadConfig } from '../../src/process/config.js';
import { sequentialIds } from '../../src/process/ids.js';
import { createLogger } from '../../src/process/log.js';
import { type ActionInput, makePolicy, type PolicyOverrides } from '../fixtures/policy.js';
import { LogSink } from './bot.js';
import { type TempDatabase, tempDatabase } from './db.js';

export const T0 = Date.parse('2026-03-02T10:00:00Z');
const NODE = process.execPath;

/** Harmless command actions: sentinel's echo (tier 0), an allowlisted tier 2 echo, a slow one. */
export function harmlessActions(): ActionInput[] {
  const echo = (id: string, tier: 0 | 2, cls: 'evidence' | 'alerting') => ({
    id,
    agent: 'sentinel' as const,
    description: `echo its message (${id})`,
    tier,
    class: cls,
    target: 'web',
    params: { msg: { pattern: '[a-z ]{1,20}', maxLength: 20 } },
    executor: { command: [NODE, '-e', 'process.stdout.write("said " + process.argv[1])', '{msg}'] },
  });
  return [
    echo('s-echo', 0, 'evidence'),
    echo('s-touch', 2, 'alerting'),
    {
      ...echo('s-restart', 2, 'alerting'),
      description: 'restart web (harmless echo; service-affecting, so approval is needed)',
      class: 'service-affecting',
    },
    {
      id: 's-sleep',
      agent: 'sentinel',
      description: 'wait a long time',
      tier: 0,
      class: 'evidence',
      target: 'web',
      params: {},
      executor: { command: [NODE, '-e', 'setTimeout(() => {}, 20000)'] },
      timeout: '30s',
    },
  ];
}

/** The fixture policy plus the harmless actions; s-touch is on sentinel's allowlist. */
export function kitPolicy(over: PolicyOverrides = {}): Policy {
  return makePolicy({
    ...over,
    extraActions: [...harmlessActions(), ...(over.extraActions ?? [])],
    agents: {
      ...over.agents,
      sentinel: { allowlist: ['silence-alert', 's-touch'], ...over.agents?.sentinel },
    },
  });
}

export interface OutboxMessage {
  readonly channel: string;
  readonly dedupeKey: string;
  readonly message: ChatMessage;
}

export interface AgentKit {
  readonly db: TempDatabase;
  readonly audit: AuditLog;
  readonly control: ControlStore;
  readonly core: Core;
  readonly pipeline: AgentPipeline;
  /** What the pipeline was built with (a restarted bot builds a new one on the same). */
  readonly pipelineDeps: AgentPipelineDeps;
  readonly logs: LogSink;
  readonly clock: { t: number };
  policy: Policy;
  /** What main wires into the kill switch: the core's teeth and the pipeline's. */
  kill(target: AgentName | 'all'): void;
  messages(): OutboxMessage[];
  runsOf(agent?: AgentName): (typeof runs.$inferSelect)[];
  agentRuns(): (typeof runs.$inferSelect)[];
  actionRuns(): (typeof runs.$inferSelect)[];
  proposals(): (typeof proposals.$inferSelect)[];
  auditKinds(): string[];
  close(): void;
}

export interface KitOptions {
  readonly policy?: Policy;
  readonly env?: Record<string, string>;
  /** A model server (the fake Ollama's URL): the real ollama client and ModelRouter are wired to it. */
  readonly modelHost?: string;
  readonly deps?: Partial<AgentPipelineDeps>;
}

export function agentKit(o: KitOptions = {}): AgentKit {
  const db = tempDatabase('autonomy-agents-');
  const { database } = db;
  const clock = { t: T0 };
  const now = () => clock.t;
  const audit = new AuditLog(database, { now });
  const control = new ControlStore(database, audit, { now });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env };
  const config = loadConfig({ AUTONOMY_DB: join(db.dir, 'bot.db'), AUTONOMY_CONSOLE: 'off' }, db.dir);
  const logs = new LogSink();
  const log = createLogger('debug', logs);
  const newId = sequentialIds();
  let policy = o.policy ?? kitPolicy({ phase: 3 });
  const core = createCore({
    config,
    database,
    audit,
    control,
    policy: () => policy,
    policyVersion: () => 1,
    lastPolicyError: () => null,
    now,
    newId,
    env,
    log,
  });
  let pipelineRef: AgentPipeline | null = null;
  const router =
    o.modelHost === undefined
      ? null
      : new ModelRouter({
          client: createOllamaClient(),
          policy: () => policy,
          now,
          usage: new SqliteUsage(database, { now }),
          isKilled: (agent) => isKilled(control.snapshot(), agent),
          log: { warn: () => {}, info: () => {} },
          defaultHost: o.modelHost,
          onDegraded: (agent, reason, detail) => pipelineRef?.degraded(agent, reason, detail),
        });
  const pipelineDeps: AgentPipelineDeps = {
    database,
    audit,
    now,
    newId,
    log,
    policy: () => policy,
    controlState: () => control.snapshot(),
    runner: core.runner,
    approvals: core.approvals,
    grants: core.grants,
    outbox: core.outbox,
    mutes: core.mutes,
    env,
    dataDir: db.dir,
    router,
    ...o.deps,
  };
  const pipeline = new AgentPipeline(pipelineDeps);
  pipelineRef = pipeline;
  return {
    db,
    audit,
    control,
    core,
    pipeline,
    pipelineDeps,
    logs,
    clock,
    get policy() {
      return policy;
    },
    set policy(p: Policy) {
      policy = p;
    },
    kill(target) {
      control.kill(target, 'slack:user:U0OPERATOR', 'test');
      core.onKill();
      pipeline.killAgent(target);
    },
    messages: () =>
      database.db
        .select()
        .from(outbox)
        .orderBy(asc(outbox.id))
        .all()
        .map((r) => ({ channel: r.channel, dedupeKey: r.dedupeKey, message: r.message as ChatMessage })),
    runsOf: (agent) =>
      database.db
        .select()
        .from(runs)
        .where(agent === undefined ? undefined : eq(runs.agent, agent))
        .orderBy(asc(runs.startedAt), asc(runs.id))
        .all(),
    agentRuns: () =>
      database.db
        .select()
        .from(runs)
        .all()
        .filter((r) => r.actionId === null),
    actionRuns: () =>
      database.db
        .select()
        .from(runs)
        .all()
        .filter((r) => r.actionId !== null),
    proposals: () => database.db.select().from(proposals).orderBy(asc(proposals.decidedAt)).all(),
    auditKinds: () =>
      database.db
        .select({ kind: auditLog.kind })
        .from(auditLog)
        .orderBy(asc(auditLog.seq))
        .all()
        .map((r) => r.kind),
    close: () => db.cleanup(),
  };
}

/** A fake agent: handles the kinds given and runs `onSignal` / `light` / `deep` as given. */
export function fakeAgent(
  name: AgentName,
  o: {
    handles?: SignalKind[];
    wakesOn?: Agent['wakesOn'];
    onSignal?: Agent['onSignal'];
    light?: (ctx: AgentContext) => Promise<void>;
    deep?: (ctx: AgentContext) => Promise<void>;
  } = {},
): Agent {
  return {
    name,
    handles: o.handles ?? ['alert'],
    ...(o.wakesOn === undefined ? {} : { wakesOn: o.wakesOn }),
    ...(o.onSignal === undefined ? {} : { onSignal: o.onSignal }),
    ...(o.light === undefined ? {} : { light: o.light }),
    ...(o.deep === undefined ? {} : { deep: o.deep }),
  };
}

/** A promise and its resolver, to hold an agent mid-run. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
