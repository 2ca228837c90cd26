/**
 * The bot under the end-to-end benches (bench/bot-child.ts forks it), in a process of its own so
 * its CPU time and memory are its own: a real bot (startBot) as its env says (data folder, policy,
 * chat). The parent asks over IPC for this process's CPU time and RSS (`gc`: after a full GC, when
 * node runs with --expose-gc) and whether the bot has settled (no agent job waiting or running,
 * nothing left to deliver).
 */
import { inArray, sql } from 'drizzle-orm';
import { agentJobs, incidents as incidentRows } from '../src/db/schema.js';
import { startBot } from '../src/main.js';

const bot = await startBot({
  env: process.env,
  print: () => {},
  logDestination: { write: () => {} } as never,
});
const send = (m: unknown) => process.send?.(m);

process.on('message', (m: { op: string }) => {
  if (m.op === 'cpu' || m.op === 'gc') {
    if (m.op === 'gc') (globalThis as { gc?: () => void }).gc?.();
    const u = process.cpuUsage();
    // maxRSS: the most the process ever held (kilobytes), the figure a container's limit meets.
    const peakRss = process.resourceUsage().maxRSS * 1024;
    send({ op: m.op, micros: u.user + u.system, rss: process.memoryUsage().rss, peakRss });
  } else if (m.op === 'settled') {
    const busy = bot.database.db
      .select({ id: agentJobs.id })
      .from(agentJobs)
      .where(inArray(agentJobs.state, ['queued', 'running']))
      .all().length;
    const backlog = bot.core.outbox.backlog();
    // Incident numbers run 1, 2, 3...: the highest is how many there are, read off its index
    // (counting the rows would cost the bot CPU in every poll on a database with history).
    const incidents = Number(
      bot.database.db
        .select({ n: sql<number>`coalesce(max(${incidentRows.number}), 0)` })
        .from(incidentRows)
        .get()?.n ?? 0,
    );
    send({ op: 'settled', busy, pending: backlog.pending, incidents });
  } else if (m.op === 'stop') {
    void bot.stop().then(() => process.exit(0));
  }
});
send({ op: 'ready', url: bot.url, token: bot.ingestToken });
