/**
 * The running bot every contract driver stands in front of: the default policy with everything
 * routed to the platform's one channel, the driver's people given roles, phase 3, and one harmless
 * tier 3 action (it appends its ticket to a file), so approvals are real and "ran once" is a line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Bot, startBot } from '../../src/main.js';
import { decide } from '../../src/policy/decide.js';
import type { Proposal } from '../../src/policy/types.js';
import { LogSink, type TempSetup, tempSetup } from '../helpers/bot.js';

const MARK_ACTION = `
  - id: mark-deploy
    agent: sentinel
    description: Record a deploy marker (appends the ticket to a file)
    tier: 3
    class: service-affecting
    target: web
    params:
      ticket:
        pattern: "[a-z0-9][a-z0-9-]{0,19}"
    executor:
      command: ["${process.execPath}", -e, "require('fs').appendFileSync(process.env.MARKER_FILE, process.argv[1] + '\\\\n')", "{ticket}"]
      env: [MARKER_FILE]
    timeout: 30s
`;

export interface ContractBotOptions {
  /** The one channel on the platform that the policy routes everything to. */
  readonly channel: string;
  readonly lead: string;
  readonly operator: string;
  /** The platform's environment (tokens, fake API URLs). */
  readonly env?: Record<string, string>;
}

export interface ContractBot {
  readonly bot: Bot;
  readonly setup: TempSetup;
  /** Tickets of the runs of mark-deploy, one per run, in order. */
  ran(): string[];
  /** Asks for approval to run mark-deploy with `ticket`; returns the short id (`a1`). */
  askApproval(ticket: string): string;
  /** Opens an incident from a critical alert; returns its short id (`i1`). */
  openIncident(title: string): string;
  stop(): Promise<void>;
}

export function contractPolicy(text: string, o: ContractBotOptions): string {
  return `${text
    .replaceAll('console:main', o.channel)
    .replace(/operators: \[console:user:local\]/, `operators: [${o.lead}, ${o.operator}]`)
    .replace(/approvers: \[console:user:local\]/, `approvers: [${o.lead}]`)
    .replace(/admins: \[console:user:local\]/, `admins: [${o.lead}]`)
    .replace('phase: 1 # observe-only baseline', 'phase: 3')}${MARK_ACTION}`;
}

export async function startContractBot(o: ContractBotOptions): Promise<ContractBot> {
  const setup = tempSetup();
  const marker = join(setup.dir, 'marker.txt');
  setup.savePolicy(contractPolicy(setup.policyText(), o));
  const bot = await startBot({
    env: { ...setup.env, MARKER_FILE: marker, ...o.env },
    logDestination: new LogSink(),
    print: () => {},
  });
  let signal = 0;
  return {
    bot,
    setup,
    ran: () => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter(Boolean) : []),
    askApproval(ticket) {
      const proposal: Proposal = {
        agent: 'sentinel',
        actionId: 'mark-deploy',
        params: { ticket },
        rationale: `deploy ${ticket} finished`,
      };
      const decision = decide(bot.policy.current, { ...bot.control.snapshot() }, proposal, Date.now());
      if (decision.verdict !== 'ask')
        throw new Error(`expected ask, got ${decision.verdict}: ${decision.reason}`);
      const { shortId } = bot.core.approvals.request(proposal, decision, { trigger: 'test', evidence: [] });
      bot.outboxWorker.poke();
      return shortId;
    },
    openIncident(title) {
      signal += 1;
      const [outcome] = bot.core.signals.ingest([
        {
          kind: 'alert',
          source: 'alertmanager',
          dedupeKey: `contract:${signal}`,
          fingerprint: `Contract${signal}:web`,
          title,
          service: 'web',
          severity: 'critical',
          payload: {},
        },
      ]);
      const shortId = outcome?.status === 'stored' ? outcome.incident?.shortId : undefined;
      if (shortId === undefined) throw new Error('the alert opened no incident');
      bot.outboxWorker.poke();
      return shortId;
    },
    async stop() {
      await bot.stop();
      setup.cleanup();
    },
  };
}
