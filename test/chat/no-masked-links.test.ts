/**
 * Untrusted text (a sender's alert, a person's deny reason, a model's finding) can never become a
 * masked link on any platform: every platform's link syntax goes through every message kind and
 * every text slot, and what comes out either shows the URL itself or names its host.
 */
import { describe, expect, it } from 'vitest';
import { renderMessage as renderDiscord } from '../../adapters/discord/render.js';
import { renderSlackMessage } from '../../adapters/slack/render.js';
import { linkLabel } from '../../src/chat/link-label.js';
import { MESSAGE_KINDS, message } from '../../src/chat/message.js';

const EVIL = 'http://evil.example.net/x';
const SYNTAXES = [
  `[good](${EVIL})`,
  `[good](<${EVIL}>)`,
  `<${EVIL}|good>`,
  `<${EVIL}>`,
  `[good][1]\n[1]: ${EVIL}`,
  `<a href="${EVIL}">good</a>`,
  `\\[good\\](${EVIL})`,
];

function messages() {
  return MESSAGE_KINDS.flatMap((kind) =>
    SYNTAXES.map((text) =>
      message({
        kind,
        title: `Deny reason ${text}`.slice(0, 300),
        body: `The model said: ${text}\nand again ${text}`,
        fields: [{ label: 'Reason', value: text }],
        // A model's link whose label pretends to be somewhere else.
        links: [{ label: 'Official docs at docs.example.com', url: EVIL }],
      }),
    ),
  );
}

/** Every `<url|label>` in Slack output: its label must name the URL's host. */
function slackMasked(json: string): string[] {
  const bad: string[] = [];
  for (const m of json.matchAll(/<(https?:\/\/[^|>\s]+)\|([^>]*)>/g)) {
    const host = new URL(m[1] ?? '').host;
    if (!(m[2] ?? '').includes(`(${host})`)) bad.push(m[0]);
  }
  return bad;
}

/** A `[text](url)` Discord would render as a masked link: an unescaped `[`...`](`. */
function discordMasked(text: string): boolean {
  return /(?<!\\)\[[^\]]*(?<!\\)\]\(\s*<?https?:/.test(text);
}

describe('no masked link from untrusted text', () => {
  it('Slack: text is escaped; a link reads as its label and its real host', () => {
    for (const m of messages()) {
      const rendered = renderSlackMessage(m, { fullTextUrl: null });
      const json = JSON.stringify(rendered);
      expect(slackMasked(json), `${m.kind}: ${m.body}`).toEqual([]);
      expect(json).toContain('Official docs at docs.example.com (evil.example.net)');
    }
  });

  it('Discord: masked link syntax is escaped in every text; link buttons name their host', () => {
    for (const m of messages()) {
      const body = renderDiscord(m, { fullTextUrl: null });
      for (const e of body.embeds ?? []) {
        const texts = [
          e.title ?? '',
          e.description ?? '',
          ...(e.fields ?? []).flatMap((f) => [f.name, f.value]),
        ];
        for (const t of texts) expect(discordMasked(t), `${m.kind}: ${t}`).toBe(false);
      }
      const buttons = (body.components ?? []).flatMap((r) => r.components) as {
        label?: string;
        url?: string;
      }[];
      for (const b of buttons.filter((x) => x.url !== undefined)) {
        expect(b.label).toContain(`(${new URL(b.url ?? '').host})`);
      }
    }
  });

  it('names the host of every link, keeping it whole when the label is cut', () => {
    expect(linkLabel('Runbook (wiki.example.org)', 'https://wiki.example.org/x')).toBe(
      'Runbook (wiki.example.org)',
    );
    expect(linkLabel('x'.repeat(200), EVIL, 80)).toMatch(
      /…\(evil\.example\.net\)$|… \(evil\.example\.net\)$/,
    );
    expect(linkLabel('x'.repeat(200), EVIL, 80)?.length).toBeLessThanOrEqual(80);
    expect(linkLabel('run me', 'javascript:alert(1)')).toBeNull();
  });
});
