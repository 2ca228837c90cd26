/**
 * Demo action restart-demo-service (sentinel, service-affecting, tier 3: needs an approval):
 * "restarts" a demo service by writing a restart marker into the demo folder. No real service is
 * touched.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, report, subFolder } from './demo-folder.mjs';

const service = arg('service', /^demo-[a-z]+$/);
const marker = join(subFolder('services'), `${service}.restarted`);
writeFileSync(marker, `${new Date().toISOString()}\n`);
report(`restarted ${service} (pretend: wrote ${marker}); health checks pass again`);
