/**
 * policies/policy.schema.json is what editors validate the YAML with (via the
 * `# yaml-language-server: $schema=...` line). It must always say what the zod schema says.
 * After changing src/policy/schema.ts, regenerate it with:
 *
 *   UPDATE_POLICY_SCHEMA=1 npx vitest run test/policy/schema.test.ts
 *
 * The comparison is of the parsed JSON, so reformatting the file (e.g. by biome) is not drift.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema } from '../../src/policy/schema.js';

const FILE = 'policies/policy.schema.json';

describe('policies/policy.schema.json', () => {
  it('says what the policy schema generates now', async () => {
    const generated = `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_POLICY_SCHEMA === '1') await writeFile(FILE, generated);
    const committed: unknown = JSON.parse(await readFile(FILE, 'utf8'));
    expect(
      committed,
      `${FILE} is out of date: run UPDATE_POLICY_SCHEMA=1 npx vitest run test/policy/schema.test.ts`,
    ).toEqual(JSON.parse(generated));
  });

  it('is a draft 2020-12 schema that rejects unknown top-level keys and names every section', () => {
    const schema = policyJsonSchema() as {
      $schema: string;
      additionalProperties: unknown;
      required: string[];
      properties: Record<string, unknown>;
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    for (const section of [
      'purpose',
      'agents',
      'tiers',
      'triggers',
      'models',
      'budgets',
      'research',
      'learning',
      'evidence',
      'control',
      'metrics',
      'rollout',
      'routing',
    ]) {
      expect(schema.required).toContain(section);
    }
    expect(Object.keys(schema.properties)).toContain('actions');
  });
});
