/**
 * Teams and `routing.services` in the policy file: old files load unchanged, and `policy check`
 * reports a duplicate team, a service owned by two teams and a bad channel at their line.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { formatIssue } from '../../src/policy/errors.js';
import { parsePolicy } from '../../src/policy/load.js';
import { serviceRouteOf, teamOf } from '../../src/policy/teams.js';

const FILE = 'p.yaml';
let defaultText = '';

beforeAll(async () => {
  defaultText = await readFile('policies/default.policy.yaml', 'utf8');
});

function withTeams(teams: unknown, services?: unknown): string {
  const doc = parseDocument(defaultText);
  if (teams !== undefined) doc.set('teams', teams);
  if (services !== undefined) doc.setIn(['routing', 'services'], services);
  return String(doc);
}

function lineOf(text: string, needle: string, after = 0): number {
  const lines = text.split('\n');
  for (let i = after; i < lines.length; i++) if ((lines[i] as string).includes(needle)) return i + 1;
  throw new Error(`not found: ${needle}`);
}

describe('teams and service routes', () => {
  it('a policy without them loads with none', () => {
    const result = parsePolicy(defaultText, FILE);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    expect(result.doc.teams).toEqual([]);
    expect(result.doc.routing.services).toEqual({});
  });

  it('finds the owner and the route: an exact name first, then globs in file order', () => {
    const text = withTeams(
      [
        { name: 'shop', services: ['checkout-*'], channels: { critical: ['console:shop'] } },
        { name: 'pay', services: ['checkout-pay', 'pay-*'], channels: { warning: ['console:pay'] } },
      ],
      { 'checkout-*': { critical: ['console:checkout'] }, 'checkout-api': { info: ['console:api'] } },
    );
    const result = parsePolicy(text, FILE);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    expect(teamOf(result.doc, 'checkout-web')?.name).toBe('shop');
    expect(teamOf(result.doc, 'checkout-pay')?.name).toBe('pay');
    expect(teamOf(result.doc, 'billing')).toBeNull();
    expect(serviceRouteOf(result.doc, 'checkout-api')).toEqual({ info: ['console:api'] });
    expect(serviceRouteOf(result.doc, 'checkout-web')).toEqual({ critical: ['console:checkout'] });
    expect(serviceRouteOf(result.doc, 'checkoutweb')).toBeNull();
  });

  it('reports a duplicate team name and a service owned by two teams at their lines', () => {
    const text = withTeams([
      { name: 'shop', services: ['checkout'], channels: { critical: ['console:shop'] } },
      { name: 'shop', services: ['cart'], channels: { critical: ['console:shop2'] } },
      { name: 'pay', services: ['payments', 'checkout'], channels: { critical: ['console:pay'] } },
    ]);
    const result = parsePolicy(text, FILE);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const teamsLine = lineOf(text, 'teams:');
    expect(result.issues.map((i) => [i.line, i.path, i.message])).toEqual([
      [
        lineOf(text, 'name: shop', lineOf(text, 'name: shop', teamsLine)),
        'teams[1].name',
        'shop is also the name of team 0; give each team its own name',
      ],
      [
        lineOf(text, '- checkout', lineOf(text, 'name: pay', teamsLine)),
        'teams[2].services[1]',
        'checkout is already owned by team shop; a service has one team: remove it from one of them',
      ],
    ]);
  });

  it('rejects a channel that is not a channel, where it is written', () => {
    const text = withTeams(undefined, { web: { critical: ['#oncall'] } });
    const result = parsePolicy(text, FILE);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => [i.line, i.path])).toEqual([
      [lineOf(text, '#oncall'), 'routing.services.web.critical[0]'],
    ]);
    expect(result.issues[0]?.message).toMatch(/a channel like slack:C123/);
  });

  it('warns about a team without channels (its posts fall back to the agents routes)', () => {
    const text = withTeams([{ name: 'shop', services: ['checkout'] }]);
    const result = parsePolicy(text, FILE);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    expect(result.warnings.map((w) => w.path)).toEqual(['teams[0].channels']);
  });
});
