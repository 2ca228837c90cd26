/**
 * The bot under bench/incident-cpu.bench.ts, in a process of its own so its CPU time is its own:
 * a real bot (startBot) on a fresh data folder, the default policy, the console as its chat. The
 * parent asks over IPC for this process's CPU time and whether the bot has settled (no agent job
 * waiting or running, nothing left to deliver).
 */
import { inArray } from 'drizzle-orm';
import { agentJobs, incidents as incidentRows } from '../src/db/schema.js';
import { startBot } from '../src/main.js';

const bot = await startBot({
  env: process.env,
  print: () => {},
  logDestination: { write: () => {} } as never,
});
const send = (m: unknown) => process.send?.(m);

process.on('message', (m: { op: string }) => {
  if (m.op === 'cpu') {
    const u = process.cpuUsage();
    send({ op: 'cpu', micros: u.user + u.system, rss: process.memoryUsage().rss });
  } else if (m.op === 'settled') {
    const busy = bot.database.db
      .select({ id: agentJobs.id })
      .from(agentJobs)
      .where(inArray(agentJobs.state, ['queued', 'running']))
      .all().length;
    const backlog = bot.core.outbox.backlog();
    const incidents = bot.database.db.select({ id: incidentRows.id }).from(incidentRows).all().length;
    send({ op: 'settled', busy, pending: backlog.pending, incidents });
  } else if (m.op === 'stop') {
    void bot.stop().then(() => process.exit(0));
  }
});
send({ op: 'ready', url: bot.url, token: bot.ingestToken });
