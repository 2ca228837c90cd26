import { afterEach, describe, expect, it } from 'vitest';
import { AgentDispatcher } from '../../../src/agents/runtime/dispatch.js';
import { AgentJobs, LEASE_MS } from '../../../src/agents/runtime/jobs.js';
import { AgentPipeline } from '../../../src/agents/runtime/pipeline.js';
import { sweepBodies } from '../../../src/agents/runtime/sweep-bodies.js';
import type { Agent, AgentSignal } from '../../../src/agents/runtime/types.js';
import { isKilled } from '../../../src/control/state.js';
import { agentJobs } from '../../../src/db/schema.js';
import type { AgentName, SignalKind } from '../../../src/policy/vocabulary.js';
import { Foreground } from '../../../src/process/foreground.js';
import { randomId } from '../../../src/process/ids.js';
import { Sweeps } from '../../../src/signals/sweeps/sweeps.js';
import type { SignalInput } from '../../../src/signals/types.js';
import { type AgentKit, agentKit, fakeAgent, gate, kitPolicy } from '../../helpers/agent-kit.js';
import { eventually } from '../../helpers/bot.js';

let kit: AgentKit | null = null;
let dispatcher: AgentDispatcher | null = null;
let jobs: AgentJobs | null = null;
/** Takes the dispatcher off the signal store (as the agents' service does when it stops). */
let unwire: () => void = () => {};

afterEach(async () => {
  await dispatcher?.stop();
  dispatcher = null;
  await kit?.pipeline.stop(2000);
  kit?.close();
  kit = null;
});

let n = 0;
function input(over: Partial<SignalInput> & { fingerprint: string }): SignalInput {
  n++;
  return {
    kind: 'alert',
    source: 'alertmanager',
    dedupeKey: `d-${n}`,
    title: `alert ${over.fingerprint}`,
    severity: 'warning',
    payload: {},
    // One service per fingerprint: signals of one service within the correlation window join one
    // incident, and these tests are about distinct incidents.
    service: `web-${over.fingerprint}`,
    ...over,
  };
}

/** Claims sentinel's next job as its worker would, starting nothing (null when none waits). */
const claimSentinel = () => jobs?.claimAndStart('sentinel', () => null)?.job ?? null;

/** A kit and a dispatcher over `agents`, handed the core's stored signals as the bot does. */
function setup(agents: Agent[], o: { policy?: ReturnType<typeof kitPolicy> } = {}): AgentKit {
  const k = agentKit(o.policy === undefined ? {} : { policy: o.policy });
  kit = k;
  setupDispatcher(k, agents);
  return k;
}

function setupDispatcher(
  k: AgentKit,
  agents: Agent[],
  pipeline: Pick<AgentPipeline, 'begin'> = k.pipeline,
  foreground?: { foreground: Foreground; jobWaitMs: number },
  o: { retryMs?: number } = {},
): void {
  const policy = () => k.policy;
  const killed = (a: AgentName) => isKilled(k.control.snapshot(), a);
  const now = () => k.clock.t;
  jobs = new AgentJobs({
    database: k.db.database,
    audit: k.audit,
    now,
    newId: randomId,
    agents,
    policy,
    isKilled: killed,
  });
  dispatcher = new AgentDispatcher({
    agents,
    pipeline,
    jobs,
    policy,
    isKilled: killed,
    now,
    log: kitLog(k),
    ...foreground,
    ...o,
  });
  const raising = k.core.signals.beforeCommit(dispatcher.raise);
  const waking = k.core.signals.onStored(dispatcher.onStored);
  unwire = () => {
    raising();
    waking();
  };
  dispatcher.start();
}

function kitLog(k: AgentKit) {
  const records: { level: string; msg: string }[] = [];
  logged.set(k, records);
  return {
    warn: (_obj: object, msg: string) => records.push({ level: 'warn', msg }),
    error: (_obj: object, msg: string) => records.push({ level: 'error', msg }),
  };
}
const logged = new WeakMap<AgentKit, { level: string; msg: string }[]>();

/** An agent that records the signals it was given. */
function recorder(name: AgentName, handles: SignalKind[], o: { wakesOn?: Agent['wakesOn'] } = {}) {
  const seen: AgentSignal[] = [];
  const agent = fakeAgent(name, {
    handles,
    ...o,
    onSignal: async (s) => {
      seen.push(s);
    },
  });
  return { agent, seen };
}

/** A dispatcher whose sentinel is busy with fp-0 until `held.open()`: the jobs raised next wait. */
async function sentinelBusyWithFirst(): Promise<{ k: AgentKit; held: ReturnType<typeof gate> }> {
  const held = gate();
  let started = false;
  const sentinel = fakeAgent('sentinel', {
    onSignal: async () => {
      started = true;
      await held.promise;
    },
  });
  const k = setup([sentinel]);
  k.core.signals.ingest([input({ fingerprint: 'fp-0' })]);
  await eventually(() => started);
  return { k, held };
}

describe('the dispatcher', () => {
  it('hands a signal that opens an incident to the agents that handle it, and not its updates', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const validator = recorder('validator', ['failed_job']);
    const k = setup([sentinel.agent, validator.agent]);
    const [stored] = k.core.signals.ingest([input({ fingerprint: 'web-down' })]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(1);
    expect(validator.seen).toHaveLength(0);
    const s = sentinel.seen[0];
    expect(s).toMatchObject({
      kind: 'alert',
      fingerprint: 'web-down',
      service: 'web-web-down',
      incident: { change: 'opened' },
    });
    if (stored?.status !== 'stored') throw new Error('not stored');
    expect(s?.id).toBe(stored.signalId);
    const [run] = k.agentRuns();
    expect(run).toMatchObject({
      triggerSource: 'webhook',
      triggerRef: stored.signalId,
      incidentId: s?.incident?.id,
    });
    expect(run?.evidence).toEqual([`signal:${stored.signalId}`, `incident:${s?.incident?.id}`]);

    k.core.signals.ingest([input({ fingerprint: 'web-down' })]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(1);
  });

  it('hands over a health probe getting worse (slow, then down: the monitor sends nothing in between)', async () => {
    const sentinel = recorder('sentinel', ['health']);
    const k = setup([sentinel.agent]);
    const probe = { kind: 'health' as const, source: 'probe:web', fingerprint: 'health:web' };
    k.core.signals.ingest([input({ ...probe, severity: 'warning', title: 'web is slow' })]);
    await dispatcher?.idle();
    k.core.signals.ingest([input({ ...probe, severity: 'critical', title: 'web is down' })]);
    await dispatcher?.idle();
    expect(sentinel.seen.map((s) => [s.title, s.severity, s.incident?.change])).toEqual([
      ['web is slow', 'warning', 'opened'],
      ['web is down', 'critical', 'updated'],
    ]);
    expect(k.agentRuns()).toHaveLength(2);
  });

  it('makes one agent run of 1,000 identical alerts', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const k = setup([sentinel.agent]);
    for (let i = 0; i < 10; i++) {
      k.core.signals.ingest(Array.from({ length: 100 }, () => input({ fingerprint: 'flood' })));
    }
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(1);
    expect(k.agentRuns()).toHaveLength(1);
  });

  it("names the incident in an agent's post as its card does: by the short id people type", async () => {
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s, ctx) => {
        ctx.post({ kind: 'alert', title: `triage of ${s.fingerprint}`, severity: 'warning', body: 'found' });
      },
    });
    const k = setup([sentinel]);
    k.core.signals.ingest([input({ fingerprint: 'named' })]);
    await dispatcher?.idle();
    const refs = (title: string) => k.messages().find((m) => m.message.title.includes(title))?.message.refs;
    const card = refs('alert named');
    expect(card?.incident).toMatch(/^i\d+$/);
    expect(refs('triage of named')).toMatchObject({ incident: card?.incident, run: expect.any(String) });
  });

  it('names probes and sweeps as the trigger source', async () => {
    const sentinel = recorder('sentinel', ['health']);
    const k = setup([sentinel.agent]);
    k.core.signals.ingest([input({ kind: 'health', source: 'probe:web', fingerprint: 'health:web' })]);
    await dispatcher?.idle();
    expect(k.agentRuns()[0]?.triggerSource).toBe('probe');
  });

  it('does not dispatch kinds outside triggers.events, nor to killed or disabled agents', async () => {
    const sentinel = recorder('sentinel', ['alert', 'event']);
    const guardian = recorder('guardian', ['alert']);
    const k = setup([sentinel.agent, guardian.agent], {
      policy: kitPolicy({ phase: 3, agents: { guardian: { enabled: false } } }),
    });
    k.core.signals.ingest([input({ kind: 'event', source: 'events', fingerprint: 'deploy' })]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(0);

    k.control.kill('sentinel', 'slack:user:U0OPERATOR');
    k.core.signals.ingest([input({ fingerprint: 'db-slow' })]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(0);
    expect(guardian.seen).toHaveLength(0);
    expect(k.agentRuns()).toEqual([]);
  });

  it('wakes each agent only for the changes it acts on: new signals, resolutions, or both', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const mentor = recorder('mentor', ['alert'], { wakesOn: ['resolved'] });
    const guardian = recorder('guardian', ['alert'], { wakesOn: ['new', 'resolved'] });
    const k = setup([sentinel.agent, mentor.agent, guardian.agent]);
    k.core.signals.ingest([input({ fingerprint: 'disk-full' })]);
    await dispatcher?.idle();
    k.core.signals.ingest([input({ fingerprint: 'disk-full', resolves: true })]);
    await dispatcher?.idle();
    expect(sentinel.seen.map((s) => s.incident?.change)).toEqual(['opened']);
    expect(guardian.seen.map((s) => s.incident?.change)).toEqual(['opened', 'resolved']);
    // An agent that acts on resolutions only gets no job, and so records no run, for the opening.
    expect(mentor.seen.map((s) => s.incident?.change)).toEqual(['resolved']);
    expect(k.agentRuns().filter((r) => r.agent === 'mentor')).toHaveLength(1);
    // A resolution that resolves nothing goes nowhere.
    k.core.signals.ingest([input({ fingerprint: 'never-opened', resolves: true })]);
    await dispatcher?.idle();
    expect(mentor.seen).toHaveLength(1);
  });

  it('runs nothing when a claim fails to commit (a full disk): the job waits, and runs once on the retry', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const k = agentKit();
    kit = k;
    const sqlite = k.db.database.sqlite;
    let failNext = true;
    const committed: string[] = [];
    setupDispatcher(
      k,
      [sentinel.agent],
      {
        begin: (...args) => {
          const go = k.pipeline.begin(...args);
          if (failNext) {
            failNext = false;
            // A foreign key checked at COMMIT: this claim's COMMIT fails, after the run's start was
            // written, as it would on a full disk.
            sqlite.pragma('defer_foreign_keys = ON');
            sqlite
              .prepare("UPDATE agent_jobs SET incident_id = 'no-such-incident' WHERE state = 'running'")
              .run();
          }
          return go;
        },
      },
      undefined,
      { retryMs: 200 },
    );
    k.core.signals.ingest([input({ fingerprint: 'disk-full' })]);
    await dispatcher?.idle();
    committed.push(
      ...k.db.database.db
        .select()
        .from(agentJobs)
        .all()
        .map((j) => j.state),
    );
    await new Promise((r) => setImmediate(r));
    // Nothing ran and nothing was recorded; the claim rolled back, so the job still waits.
    expect(sentinel.seen).toHaveLength(0);
    expect(k.agentRuns()).toEqual([]);
    expect(committed).toEqual(['queued']);
    expect(logged.get(k)?.map((l) => l.msg)).toContain(
      'agent jobs could not be read or written: trying again shortly',
    );
    // The retry takes it up with no new signal: triaged once, its run recorded once.
    await eventually(() => expect(k.agentRuns().map((r) => r.status)).toEqual(['succeeded']));
    expect(sentinel.seen.map((s) => s.fingerprint)).toEqual(['disk-full']);
    expect(
      k.db.database.db
        .select()
        .from(agentJobs)
        .all()
        .map((j) => j.state),
    ).toEqual(['done']);
  });

  it('runs one job at a time per agent, worst severity first, then in order, and drops none', async () => {
    const held = gate();
    const seen: string[] = [];
    let running = 0;
    let most = 0;
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s) => {
        running++;
        most = Math.max(most, running);
        seen.push(s.fingerprint);
        if (seen.length === 1) await held.promise;
        running--;
      },
    });
    const k = setup([sentinel]);
    k.core.signals.ingest([input({ fingerprint: 'fp-0' })]);
    await eventually(() => seen.length === 1);
    for (let i = 1; i < 300; i++) {
      k.core.signals.ingest([
        input({ fingerprint: `fp-${i}`, severity: i === 250 ? 'critical' : 'warning' }),
      ]);
    }
    expect(dispatcher?.queued().sentinel).toBe(300);
    held.open();
    await dispatcher?.idle();
    expect(seen).toHaveLength(300);
    expect(seen.slice(0, 4)).toEqual(['fp-0', 'fp-250', 'fp-1', 'fp-2']);
    expect(most).toBe(1);
    expect(dispatcher?.queued().sentinel).toBeUndefined();
  });

  it('takes up a claim whose lease lapsed in its place: worst severity, then oldest', async () => {
    const { k, held } = await sentinelBusyWithFirst();
    k.core.signals.ingest([input({ fingerprint: 'fp-1' })]);
    k.core.signals.ingest([input({ fingerprint: 'fp-2', severity: 'critical' })]);
    // fp-0's claim is held and has not lapsed: the queued jobs come first, worst severity first.
    expect(claimSentinel()?.fingerprint).toBe('fp-2');
    k.clock.t += LEASE_MS;
    // Now fp-0's and fp-2's claims have lapsed: fp-2 (critical), then fp-0 (older than fp-1).
    expect([claimSentinel(), claimSentinel(), claimSentinel()].map((j) => j?.fingerprint)).toEqual([
      'fp-2',
      'fp-0',
      'fp-1',
    ]);
    expect(claimSentinel()).toBeNull();
    held.open();
  });

  it('claims a job and starts its run in one transaction: a start that fails writes nothing, and the job still waits', async () => {
    const { k, held } = await sentinelBusyWithFirst();
    k.core.signals.ingest([input({ fingerprint: 'fp-1' })]);
    expect(() =>
      jobs?.claimAndStart('sentinel', (job) => {
        jobs?.finish(job, 'closed', 'written by the start, then undone');
        throw new Error('the run could not be started');
      }),
    ).toThrow('the run could not be started');
    // Neither the claim nor what the start wrote: fp-1 waits as it did.
    const again = jobs?.claimAndStart('sentinel', (job) => job.state);
    expect([again?.job.fingerprint, again?.job.attempts, again?.started]).toEqual(['fp-1', 1, 'running']);
    held.open();
  });

  it('takes a job only when no webhook is being answered and no message is being sent, or after its wait', async () => {
    const seen: string[] = [];
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s) => {
        seen.push(`${s.fingerprint} with ${foreground.busy} in flight`);
      },
    });
    const foreground = new Foreground();
    const k = agentKit();
    kit = k;
    setupDispatcher(k, [sentinel], k.pipeline, { foreground, jobWaitMs: 60_000 });
    const endRequest = foreground.begin(); // a webhook being answered
    const endDelivery = foreground.begin(); // a card being sent
    k.core.signals.ingest([input({ fingerprint: 'fp-0' })]);
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    endRequest();
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    endDelivery();
    await eventually(() => seen.length === 1);
    expect(seen).toEqual(['fp-0 with 0 in flight']);
  });

  it('never starves: work that stays in flight holds a job back for its wait at most', async () => {
    const seen: string[] = [];
    const stuck = new Foreground();
    stuck.begin(); // a request that never ends
    const k = agentKit();
    kit = k;
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s) => {
        seen.push(s.fingerprint);
      },
    });
    setupDispatcher(k, [sentinel], k.pipeline, { foreground: stuck, jobWaitMs: 20 });
    k.core.signals.ingest([input({ fingerprint: 'fp-1' })]);
    await eventually(() => seen.length === 1);
    expect(stuck.busy).toBe(1);
  });

  it('queues a fingerprint once while it waits', async () => {
    const held = gate();
    const seen: string[] = [];
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s) => {
        seen.push(`${s.fingerprint}:${s.incident?.change}`);
        if (seen.length === 1) await held.promise;
      },
    });
    const k = setup([sentinel]);
    k.core.signals.ingest([input({ fingerprint: 'a' })]);
    await eventually(() => seen.length === 1);
    k.core.signals.ingest([input({ fingerprint: 'b' })]);
    k.core.signals.ingest([input({ fingerprint: 'b', resolves: true })]);
    k.core.signals.ingest([input({ fingerprint: 'b' })]); // reopens b, which still waits
    held.open();
    await dispatcher?.idle();
    expect(seen).toEqual(['a:opened', 'b:opened']);
  });
});

describe('durable jobs', () => {
  it('takes up after a crash the jobs raised and not finished, and does none twice', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const k = setup([sentinel.agent]);
    await dispatcher?.stop(); // the process "dies": jobs keep being raised with the signals, nobody works them
    for (let i = 0; i < 20; i++) k.core.signals.ingest([input({ fingerprint: `crash-${i}` })]);
    const claimed = claimSentinel(); // one was in hand when it died
    expect(claimed?.state).toBe('running');
    expect(sentinel.seen).toHaveLength(0);
    expect(dispatcher?.queued().sentinel).toBe(20);

    // The restart: a new worker over the same database.
    await restart(k, [sentinel.agent]);
    await dispatcher?.idle();
    expect(sentinel.seen.map((s) => s.fingerprint).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `crash-${i}`).sort(),
    );
    expect(k.agentRuns()).toHaveLength(20);
    await restart(k, [sentinel.agent]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(20);
  });

  it('hands back the job a stop cut short, and the next start runs it', async () => {
    const held = gate();
    const seen: string[] = [];
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s, ctx) => {
        seen.push(s.fingerprint);
        if (seen.length === 1)
          await Promise.race([held.promise, new Promise((r) => ctx.signal.addEventListener('abort', r))]);
      },
    });
    const k = setup([sentinel]);
    k.core.signals.ingest([input({ fingerprint: 'long' })]);
    k.core.signals.ingest([input({ fingerprint: 'next' })]);
    await eventually(() => seen.length === 1);
    const stopped = dispatcher?.stop();
    await k.pipeline.stop(0); // SIGTERM: the run in hand is cut short
    await stopped;
    expect(dispatcher?.queued().sentinel).toBe(2);
    const fresh = new AgentPipeline(k.pipelineDeps);
    await restart(k, [sentinel], fresh);
    await dispatcher?.idle();
    await fresh.stop(1000);
    expect(seen).toEqual(['long', 'long', 'next']);
  });

  it('posts nothing twice when a job cut short after its post runs again at the next start', async () => {
    let runs = 0;
    const sentinel = fakeAgent('sentinel', {
      onSignal: async (s, ctx) => {
        runs++;
        ctx.post({ kind: 'alert', title: `triage of ${s.fingerprint}`, severity: 'warning', body: 'found' });
        // The first run is still working (its actions, say) when the bot stops.
        if (runs === 1) await new Promise((r) => ctx.signal.addEventListener('abort', r));
      },
    });
    const k = setup([sentinel]);
    const triages = () => k.messages().filter((m) => m.message.title === 'triage of posted-then-stopped');
    k.core.signals.ingest([input({ fingerprint: 'posted-then-stopped' })]);
    await eventually(() => triages().length === 1);
    const stopped = dispatcher?.stop();
    await k.pipeline.stop(0);
    await stopped;
    const fresh = new AgentPipeline(k.pipelineDeps);
    await restart(k, [sentinel], fresh);
    await dispatcher?.idle();
    await fresh.stop(1000);
    expect(runs).toBe(2);
    expect(triages()).toHaveLength(1);
  });

  it('skips and audits a job raised while its agent is killed, and does not replay it on resume', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const k = setup([sentinel.agent]);
    k.control.kill('sentinel', 'slack:user:U0OPERATOR', 'noisy');
    k.core.signals.ingest([input({ fingerprint: 'while-killed' })]);
    await dispatcher?.idle();
    expect(k.auditKinds()).toContain('agent.job.skipped');
    k.control.resume('sentinel', 'slack:user:U0ADMIN');
    await restart(k, [sentinel.agent]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(0);
  });

  it('closes a job whose incident resolved before it was taken', async () => {
    const sentinel = recorder('sentinel', ['alert']);
    const k = setup([sentinel.agent]);
    await dispatcher?.stop();
    k.core.signals.ingest([input({ fingerprint: 'gone' })]);
    k.core.signals.ingest([input({ fingerprint: 'gone', resolves: true })]);
    await restart(k, [sentinel.agent]);
    await dispatcher?.idle();
    expect(sentinel.seen).toHaveLength(0);
    const row = k.db.database.db.select().from(agentJobs).all()[0];
    expect(row).toMatchObject({ state: 'closed', outcome: 'the incident resolved before it was taken' });
  });
});

/** A new dispatcher over the kit's database, as a restarted bot builds it. */
async function restart(k: AgentKit, agents: Agent[], pipeline = k.pipeline): Promise<void> {
  await dispatcher?.stop();
  unwire();
  setupDispatcher(k, agents, pipeline);
}

describe('sweep bodies', () => {
  const noSchedule = { schedule: () => ({ stop: () => {} }) };

  function sweeps(k: AgentKit, agents: Agent[], extra?: Parameters<typeof sweepBodies>[3]) {
    return new Sweeps({
      database: k.db.database,
      sink: k.core.signals,
      policy: () => k.policy,
      bodies: sweepBodies(k.pipeline, () => k.policy, agents, extra),
      isKilled: (a) => isKilled(k.control.snapshot(), a),
      now: () => k.clock.t,
      newId: (p) => `${p}_${Math.random().toString(36).slice(2)}`,
      scheduler: noSchedule,
    });
  }

  it("runs the agent's own checks, then the policy's checks of its actions, each through decide()", async () => {
    const k = agentKit({
      policy: kitPolicy({
        phase: 3,
        edit: (doc) => {
          doc.checks = [
            { action: 's-echo', params: { msg: 'swept' }, sweep: 'light' },
            { action: 'page-oncall', params: { severity: 'warning' }, sweep: 'light' },
            { action: 'rerun-ci-job', params: { jobId: 1 }, sweep: 'light' }, // validator's: not sentinel's check
            { action: 's-touch', params: { msg: 'deep' }, sweep: 'deep' },
          ];
        },
      }),
    });
    kit = k;
    const order: string[] = [];
    const sentinel = fakeAgent('sentinel', {
      light: async (ctx) => {
        order.push(`own light ${ctx.trigger}`);
      },
    });
    const s = sweeps(k, [sentinel], {
      extraChecks: (agent, kind) =>
        agent === 'sentinel' && kind === 'deep' ? [{ actionId: 's-echo', params: { msg: 'skill' } }] : [],
    });
    const light = await s.tick('sentinel', 'light', k.clock.t);
    expect(light.status).toBe('succeeded');
    expect(order).toEqual(['own light sweep:light']);
    expect(k.proposals().map((p) => [p.actionId, p.verdict])).toEqual([
      ['s-echo', 'execute'],
      ['page-oncall', 'suggest'],
    ]);
    const [run] = k.agentRuns();
    expect(run).toMatchObject({ triggerSource: 'cron', triggerRef: light.runId, status: 'succeeded' });

    const deep = await s.tick('sentinel', 'deep', k.clock.t);
    expect(deep.status).toBe('succeeded');
    expect(
      k
        .proposals()
        .slice(2)
        .map((p) => [p.actionId, p.verdict]),
    ).toEqual([
      ['s-touch', 'execute'],
      ['s-echo', 'execute'],
    ]);
    expect(
      k
        .actionRuns()
        .map((r) => r.actionId)
        .sort(),
    ).toEqual(['s-echo', 's-echo', 's-touch']);
  });

  it('fails the sweep when the run fails (so the failure streak counts it), and records nothing when idle', async () => {
    const k = agentKit();
    kit = k;
    const sentinel = fakeAgent('sentinel', {
      light: async () => {
        throw new Error('baseline file is corrupt');
      },
    });
    const mentor = fakeAgent('mentor');
    const s = sweeps(k, [sentinel, mentor]);
    const failed = await s.tick('sentinel', 'light', k.clock.t);
    expect(failed).toMatchObject({ status: 'failed', error: 'failed: baseline file is corrupt' });
    const idle = await s.tick('mentor', 'light', k.clock.t);
    expect(idle.status).toBe('succeeded');
    expect(k.agentRuns().map((r) => r.agent)).toEqual(['sentinel']);
  });

  it('is interrupted when the sweep is aborted (the agent was killed)', async () => {
    const k = agentKit();
    kit = k;
    const held = gate();
    const sentinel = fakeAgent('sentinel', { deep: () => held.promise });
    const s = sweeps(k, [sentinel]);
    const tick = s.tick('sentinel', 'deep', k.clock.t);
    await eventually(() => k.pipeline.inFlight().length === 1);
    k.pipeline.killAgent('sentinel');
    s.abortAgent('sentinel', 'sentinel was killed');
    expect(await tick).toMatchObject({ status: 'failed', error: 'stopped: sentinel was killed' });
    expect(k.agentRuns()[0]).toMatchObject({ status: 'interrupted' });
    held.open();
  });
});
