/**
 * Which guardian catalog actions an advisory or a sweep proposes, by rules only. For an advisory:
 * the guardian actions of class `privileged-remediation` or `config-check` that take at least one
 * advisory param (package, version, fixedVersion, ecosystem, advisory id; names as in
 * runtime/params.ts) and whose params can all be filled with values that pass their enum or
 * pattern. An action with no such param (say, rotating a credential) is not about the advisory, so
 * it is not proposed. In the deep sweep: the guardian `config-check` actions that take no params
 * and that the policy's `checks` section does not already run.
 */
import type { Policy } from '../../policy/types.js';
import { cut } from '../../signals/normalise/common.js';
import { actionsOf, type Facts, factName, factsOf, fillFromFacts } from '../runtime/params.js';
import type { AgentProposal } from '../runtime/types.js';
import { type AdvisoryFacts, type AdvisoryPackage, packageLabel } from './advisory.js';

/** Proposals per advisory signal at most (one advisory can list many packages). */
const MAX_PROPOSALS = 5;

const ALIASES = {
  package: ['package', 'pkg', 'packageName', 'dependency', 'module'],
  version: ['version', 'currentVersion', 'installedVersion', 'fromVersion'],
  fixedVersion: [
    'fixedVersion',
    'fixVersion',
    'fixed',
    'patchedVersion',
    'upgradeTo',
    'targetVersion',
    'toVersion',
  ],
  ecosystem: ['ecosystem'],
  advisory: ['advisory', 'advisoryId', 'ghsa', 'ghsaId', 'cve', 'vulnerability', 'vulnId', 'osvId'],
  manifest: ['manifest', 'lockfile', 'file', 'manifestPath'],
  repository: ['repository', 'repo'],
  service: ['service', 'system'],
} as const;

/** Param names that tie an action to the advisory itself. */
const ADVISORY_PARAMS = new Set(
  [
    ...ALIASES.package,
    ...ALIASES.version,
    ...ALIASES.fixedVersion,
    ...ALIASES.ecosystem,
    ...ALIASES.advisory,
  ].map(factName),
);

function factsFor(facts: AdvisoryFacts, p: AdvisoryPackage | null, service: string | null): Facts {
  return factsOf([
    [ALIASES.package, p?.name],
    [ALIASES.version, p?.version],
    [ALIASES.fixedVersion, p ? [p.upgradeTo, ...p.fixed] : []],
    [ALIASES.ecosystem, p ? [p.ecosystem, p.ecosystem?.toLowerCase()] : []],
    [ALIASES.advisory, facts.ids],
    [ALIASES.manifest, p?.where.map((w) => w.file) ?? []],
    [ALIASES.repository, facts.repository],
    [ALIASES.service, service],
  ]);
}

/** Remediation and config-check proposals for one advisory, at most MAX_PROPOSALS, no repeats. */
export function advisoryProposals(
  policy: Policy,
  facts: AdvisoryFacts,
  service: string | null,
): AgentProposal[] {
  const actions = actionsOf(policy, 'guardian', ['privileged-remediation', 'config-check']).filter((a) =>
    [...a.params.keys()].some((name) => ADVISORY_PARAMS.has(factName(name))),
  );
  if (actions.length === 0) return [];
  const packages: (AdvisoryPackage | null)[] = facts.packages.length > 0 ? [...facts.packages] : [null];
  const out: AgentProposal[] = [];
  const seen = new Set<string>();
  for (const p of packages) {
    const known = factsFor(facts, p, service);
    for (const action of actions) {
      const params = fillFromFacts(policy, action, known);
      if (params === null) continue;
      const key = `${action.id}\0${JSON.stringify(params)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const what = p ? packageLabel(p) : 'the advisory';
      out.push({
        actionId: action.id,
        params,
        rationale: cut(`advisory ${facts.ids[0] ?? '(no id)'} affects ${what}`, 500),
      });
      if (out.length >= MAX_PROPOSALS) return out;
    }
  }
  return out;
}

/** The deep sweep's own config checks: param-less guardian config-check actions not listed in `checks`. */
export function sweepConfigChecks(policy: Policy): AgentProposal[] {
  const listed = new Set(policy.doc.checks.map((c) => c.action));
  return actionsOf(policy, 'guardian', ['config-check'])
    .filter((a) => a.params.size === 0 && !listed.has(a.id))
    .map((a) => ({ actionId: a.id, params: {}, rationale: 'deep sweep: configuration check' }));
}
