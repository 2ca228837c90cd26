import { afterEach, describe, expect, it } from 'vitest';
import type { AgentTrigger } from '../../../src/agents/runtime/pipeline.js';
import { LIMITS, neutraliseMentions, screenFinding, screenText } from '../../../src/agents/runtime/screen.js';
import { postRedactor } from '../../../src/agents/runtime/secrets.js';
import type { Finding } from '../../../src/agents/runtime/types.js';
import { type AgentKit, agentKit, fakeAgent, kitPolicy } from '../../helpers/agent-kit.js';

const identity = (text: string): string => text;

describe('the screen', () => {
  it('makes every kind of mass or direct mention inert', () => {
    const text =
      '@everyone @here @channel @Everyone <!channel> <!here> <!everyone> <!subteam^S1> <@U123> <@!456> <@&789> <#C42>';
    const out = neutraliseMentions(text);
    expect(out).not.toMatch(/@(everyone|here|channel)\b|<[@#!]/i);
    // Still readable: only a zero-width space was added.
    expect(out.replaceAll('\u200b', '')).toBe(text);
    expect(neutraliseMentions('mail ops@example.com about @alice')).toBe('mail ops@example.com about @alice');
  });

  it("redacts the catalog's secrets, the bot's own and common token shapes, and nothing else", () => {
    const policy = kitPolicy({
      extraActions: [
        {
          id: 'with-env',
          agent: 'builder',
          description: 'uses a token',
          tier: 0,
          class: 'maintenance',
          target: 'ci',
          executor: { command: ['true'], env: ['CI_TOKEN'] },
        },
        {
          id: 'with-header',
          agent: 'builder',
          description: 'calls an API',
          tier: 0,
          class: 'maintenance',
          target: 'ci',
          executor: {
            http: {
              method: 'GET',
              url: 'https://ci.example.com/x',
              headers: { authorization: `token \${API_KEY}` },
            },
          },
        },
      ],
    });
    const env = {
      PATH: '/usr/bin:/bin',
      CI_TOKEN: 'ci-token-value-1',
      API_KEY: 'api-key-value-2',
      DISCORD_TOKEN: 'discord-token-value-3',
      AUTONOMY_INGEST_TOKEN: 'ingest-token-value-4',
      UNRELATED: 'plain-value-5',
    };
    const redact = postRedactor(policy, env, new Map([['console-token', 'console-token-value-6']]));
    const text = [
      'ci-token-value-1 api-key-value-2 discord-token-value-3 ingest-token-value-4 console-token-value-6',
      'xoxb-12345-67890-abcdef xapp-1-A111-222 ghp_abcdefghijklmnopqrstuvwxyz0123456789 github_pat_11ABCDEFG0123456789_abcdefghij',
      'AKIAIOSFODNN7EXAMPLE Authorization: Bearer abc.def.ghi-jkl_mno',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
      'plain-value-5 /usr/bin:/bin',
    ].join('\n');
    const out = redact(text);
    for (const secret of [
      'ci-token-value-1',
      'api-key-value-2',
      'discord-token-value-3',
      'ingest-token-value-4',
      'console-token-value-6',
      'xoxb-12345',
      'xapp-1-A111',
      'ghp_abc',
      'github_pat_11',
      'AKIAIOSFODNN7EXAMPLE',
      'abc.def.ghi',
      'b3BlbnNzaC1rZXktdjEAAAAA',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('[redacted CI_TOKEN]');
    expect(out).toContain('[redacted private key]');
    expect(out).toContain('plain-value-5 /usr/bin:/bin');
  });

  it('cuts text to the message limits and drops control and bidi characters', () => {
    expect(screenText('a\u202eb\u0007c\nd\te', 100, identity)).toBe('abc\nd\te');
    const long = screenText('x'.repeat(1000), 300, identity);
    expect(long).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
    const screened = screenFinding(
      {
        kind: 'alert',
        title: 't'.repeat(5000),
        severity: 'warning',
        body: 'b'.repeat(100_000),
        fields: Array.from({ length: 50 }, (_, i) => ({ label: `f${i}`, value: 'v'.repeat(5000) })),
      },
      { redact: identity, cited: [], citationsRequired: false },
    );
    if (!screened.ok) throw new Error(screened.reason);
    expect(screened.message.title).toHaveLength(LIMITS.title);
    expect(screened.message.body).toHaveLength(LIMITS.body);
    expect(screened.message.fields).toHaveLength(LIMITS.fields);
    expect(screened.message.fields?.[0]?.value).toHaveLength(LIMITS.fieldValue);
  });

  it('keeps only http(s) links, and none that carry a secret', () => {
    const redact = (t: string) => t.replaceAll('sekrit-token', '[redacted]');
    const screened = screenFinding(
      {
        kind: 'notice',
        title: 'links',
        severity: 'info',
        body: '',
        links: [
          { label: 'js', url: 'javascript:alert(1)' },
          { label: 'data', url: 'data:text/html,<script>alert(1)</script>' },
          { label: 'ftp', url: 'ftp://example.com/x' },
          { label: 'leak', url: 'https://example.com/?token=sekrit-token' },
          { label: 'not a url', url: 'see the wiki' },
          { label: 'ok', url: 'https://example.com/runbook' },
          { label: 'plain', url: 'http://status.example.com' },
        ],
      },
      { redact, cited: [], citationsRequired: false },
    );
    if (!screened.ok) throw new Error(screened.reason);
    expect(screened.message.links).toEqual([
      { label: 'ok', url: 'https://example.com/runbook' },
      { label: 'plain', url: 'http://status.example.com/' },
    ]);
  });

  it('withholds a model-written finding without a citation of a page read, when citations are required', () => {
    const finding: Finding = {
      kind: 'alert',
      title: 'CVE',
      severity: 'critical',
      body: 'exploited',
      modelWritten: true,
      citations: ['https://osv.dev/a'],
    };
    const o = { redact: identity, citationsRequired: true };
    expect(screenFinding(finding, { ...o, cited: [] })).toEqual({
      ok: false,
      reason: 'uncited model claim withheld',
    });
    expect(screenFinding(finding, { ...o, cited: ['https://osv.dev/b'] }).ok).toBe(false);
    expect(screenFinding(finding, { ...o, cited: ['https://osv.dev/a'] }).ok).toBe(true);
    expect(screenFinding(finding, { ...o, citationsRequired: false, cited: [] }).ok).toBe(true);
    // Rules-written findings need no citation.
    expect(screenFinding({ ...finding, modelWritten: false }, { ...o, cited: [] }).ok).toBe(true);
  });
});

describe('routing an agent post', () => {
  let kit: AgentKit | null = null;
  afterEach(async () => {
    await kit?.pipeline.stop(2000);
    kit?.close();
    kit = null;
  });

  const trigger: AgentTrigger = {
    source: 'webhook',
    ref: 'sig_9',
    kind: 'signal',
    signalKind: 'alert',
    service: 'web',
  };
  const finding = (severity: Finding['severity']): Finding => ({
    kind: 'alert',
    title: `a ${severity} finding`,
    severity,
    body: '',
  });

  async function postAll(k: AgentKit) {
    return k.pipeline.run(fakeAgent('sentinel'), trigger, async (ctx) => {
      ctx.post(finding('info'));
      ctx.post(finding('warning'));
      ctx.post(finding('warning'));
    });
  }

  it('goes to the channels routing names for the agent and severity, one message per post', async () => {
    const k = agentKit();
    kit = k;
    const result = await postAll(k);
    expect(result.outcome).toBe('posted 3 alerts');
    expect(k.messages().map((m) => [m.channel, m.message.title])).toEqual([
      ['console:feed', 'a info finding'],
      ['slack:C0ALERTS', 'a warning finding'],
      ['slack:C0ALERTS', 'a warning finding'],
    ]);
  });

  it('is held back while the agent or the service is muted, or a maintenance window covers the service', async () => {
    const k = agentKit();
    kit = k;
    k.core.mutes.mute('agent', 'sentinel', 3_600_000, 'slack:user:U0OPERATOR');
    expect((await postAll(k)).outcome).toBe('alert held: muted; alert held: muted; alert held: muted');
    k.core.mutes.unmute('agent', 'sentinel', 'slack:user:U0OPERATOR');
    k.core.mutes.mute('service', 'web', 3_600_000, 'slack:user:U0OPERATOR');
    await postAll(k);
    k.core.mutes.unmute('service', 'web', 'slack:user:U0OPERATOR');
    k.policy = kitPolicy({
      phase: 3,
      edit: (doc) => {
        doc.control.maintenanceWindows = [
          { name: 'patching', cron: '0 * * * *', duration: '2h', services: ['web'] },
        ];
      },
    });
    const held = await postAll(k);
    expect(held.outcome).toContain('alert held: maintenance window patching');
    expect(k.messages()).toEqual([]);
  });
});
