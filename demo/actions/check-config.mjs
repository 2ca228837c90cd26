/**
 * Demo action check-demo-config (guardian, config-check, tier 0): "checks" the demo service's
 * settings and prints them. Reads and writes nothing but its report line in the demo folder.
 */
import { report } from './demo-folder.mjs';

const settings = { tls: 'on (TLS 1.3)', debug: 'off', 'admin endpoint': 'loopback only' };
for (const [name, value] of Object.entries(settings)) process.stdout.write(`${name}: ${value}\n`);
report(`demo-api configuration checked: ${Object.keys(settings).length} settings as expected`);
