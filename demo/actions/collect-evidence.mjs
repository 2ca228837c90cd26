/**
 * Demo action collect-demo-evidence (sentinel, evidence, tier 0): "collects" the recent log lines
 * and metrics of a demo service into the demo folder and prints a summary. Read-only in spirit:
 * it writes only its evidence file inside the demo folder.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, report, subFolder } from './demo-folder.mjs';

const service = arg('service', /^demo-[a-z]+$/);
const at = new Date();
const lines = [
  `${at.toISOString()} ERROR [${service}] upstream timeout after 5000ms (pool exhausted: 20/20 connections busy)`,
  `${at.toISOString()} WARN  [${service}] p99 latency 2.8s over the 800ms objective`,
  `${at.toISOString()} INFO  [${service}] error rate 7.4% over the last 5m (objective 1%)`,
];
const file = join(subFolder('evidence'), `${service}-${at.getTime()}.log`);
writeFileSync(file, `${lines.join('\n')}\n`);
for (const line of lines) process.stdout.write(`${line}\n`);
report(`collected ${lines.length} lines of evidence for ${service} into ${file}`);
