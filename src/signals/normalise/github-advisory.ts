/**
 * GitHub's advisory webhooks -> `advisory` signals (the route and github.ts dispatch here):
 * - `security_advisory` published/updated (GitHub's global advisories): matched against the
 *   inventory like OSV records (../github-advisories.ts); each installed package@version inside a
 *   vulnerable range is a signal (fingerprint `advisory:<GHSA>`, the one OSV uses, so both feeds
 *   make one incident) with the inventory entries and what to upgrade to; an advisory that affects
 *   nothing we run is accepted and ignored with the reasons. `withdrawn` resolves it.
 * - `repository_advisory` published/reported: about a repository of yours, so always a signal
 *   (service: the repository); matched packages are named as above when the inventory has them.
 * - `dependabot_alert` created/reopened/reintroduced/auto_reopened (GitHub matched it already);
 *   fixed/dismissed/auto_dismissed resolve it.
 * Severity from the CVSS vector, else GitHub's CVSS score, else its rating (cvss.ts). Pure.
 */
import { z } from 'zod';
import {
  type GithubAdvisoryMatch,
  type GithubVulnerability,
  matchGithubAdvisory,
} from '../advisories/github.js';
import { fixText } from '../advisories/match.js';
import type { SignalInput } from '../types.js';
import { boundedKey, cut, type Normalised } from './common.js';
import {
  advisoryCore,
  base,
  emit,
  type GithubCtx,
  type GithubOutcome,
  ignore,
  occurred,
  opt,
  parse,
  pkg,
  repository,
  severityOf,
  str,
} from './github-common.js';

const securityAdvisorySchema = z.looseObject({
  action: str(100),
  security_advisory: z.looseObject({
    ...advisoryCore,
    vulnerabilities: z
      .array(
        z.looseObject({
          package: pkg.nullish(),
          vulnerable_version_range: opt(500),
          first_patched_version: z.looseObject({ identifier: opt(200) }).nullish(),
        }),
      )
      .max(10_000)
      .nullish(),
  }),
});

const repositoryAdvisorySchema = z.looseObject({
  action: str(100),
  repository,
  repository_advisory: z.looseObject({
    ...advisoryCore,
    vulnerabilities: z
      .array(
        z.looseObject({
          package: pkg.nullish(),
          vulnerable_version_range: opt(500),
          patched_versions: opt(500),
        }),
      )
      .max(10_000)
      .nullish(),
  }),
});

const dependabotAlertSchema = z.looseObject({
  action: str(100),
  repository,
  alert: z.looseObject({
    number: z.number(),
    html_url: opt(2000),
    updated_at: opt(64),
    security_advisory: z.looseObject(advisoryCore),
    security_vulnerability: z
      .looseObject({
        package: pkg.nullish(),
        vulnerable_version_range: opt(500),
        first_patched_version: z.looseObject({ identifier: opt(200) }).nullish(),
      })
      .nullish(),
    dependency: z.looseObject({ package: pkg.nullish(), manifest_path: opt(1000) }).nullish(),
  }),
});

type AdvisoryRating = Parameters<typeof severityOf>[0];

interface AdvisoryInfo {
  readonly ghsa: string;
  readonly summary: string;
  readonly repo: string | null;
  readonly advisory: AdvisoryRating;
  readonly at: string | null;
  readonly payload: Record<string, unknown>;
}

function advisory(
  ctx: GithubCtx,
  p: AdvisoryInfo & { readonly fingerprint: string; readonly resolves: boolean },
): Normalised<GithubOutcome> {
  const scored = severityOf(p.advisory);
  return emit({
    ...base(ctx),
    kind: 'advisory',
    fingerprint: boundedKey(p.fingerprint),
    title: cut(`${p.ghsa}${p.repo ? ` in ${p.repo}` : ''}: ${p.summary}`, 300),
    service: p.repo,
    severity: scored.severity,
    payload: { ghsa: p.ghsa, severityBasis: scored.basis, score: scored.score, ...p.payload },
    occurredAt: occurred(p.at, ctx.now),
    resolves: p.resolves,
  });
}

/** One signal per installed package@version inside a vulnerable range (as OSV matches are). */
function matched(
  ctx: GithubCtx,
  p: AdvisoryInfo,
  matches: readonly GithubAdvisoryMatch[],
): Normalised<GithubOutcome> {
  const scored = severityOf(p.advisory);
  const [first, ...rest] = matches.map((m): SignalInput => {
    const files = [...new Set(m.entries.map((e) => e.file))];
    return {
      source: 'github',
      dedupeKey: boundedKey(`github:${ctx.delivery}:${m.name}@${m.version}`),
      kind: 'advisory',
      fingerprint: boundedKey(`advisory:${p.ghsa}`),
      title: cut(
        `${p.ghsa} ${m.name}@${m.version}: ${p.summary} (${scored.basis}; ${fixText(m.upgradeTo, m.fixed)})`,
        300,
      ),
      service: p.repo,
      severity: scored.severity,
      payload: {
        ghsa: p.ghsa,
        severityBasis: scored.basis,
        score: scored.score,
        ...p.payload,
        ecosystem: 'npm',
        package: m.name,
        version: m.version,
        vulnerable: m.vulnerable,
        fixed: m.fixed.length > 0 ? m.fixed.join(', ') : null,
        fixedVersions: m.fixed,
        upgradeTo: m.upgradeTo,
        manifest: files[0] ?? null,
        files,
        affected: m.entries.map((e) => ({ file: e.file, name: e.name, version: e.version, dev: e.dev })),
      },
      occurredAt: occurred(p.at, ctx.now),
      resolves: false,
    };
  });
  return first === undefined ? ignore(`${p.ghsa} matched nothing in the inventory`) : emit(first, ...rest);
}

function packagesOf(vulnerabilities: readonly GithubVulnerability[]) {
  return vulnerabilities.slice(0, 50).map((v) => ({
    ecosystem: v.ecosystem,
    name: v.name,
    vulnerable: v.vulnerable,
    fixed: v.patched,
  }));
}

export function securityAdvisory(body: unknown, ctx: GithubCtx): Normalised<GithubOutcome> {
  const parsed = parse(securityAdvisorySchema, body);
  if (!parsed.ok) return parsed;
  const { action, security_advisory: a } = parsed.value;
  if (action !== 'published' && action !== 'updated' && action !== 'withdrawn') {
    return ignore(`security_advisory ${action}: only published, updated and withdrawn are signals`);
  }
  const vulnerabilities: GithubVulnerability[] = (a.vulnerabilities ?? []).map((v) => ({
    ecosystem: v.package?.ecosystem ?? null,
    name: v.package?.name ?? null,
    vulnerable: v.vulnerable_version_range ?? null,
    patched: v.first_patched_version?.identifier ?? null,
  }));
  const info: AdvisoryInfo = {
    ghsa: a.ghsa_id,
    summary: a.summary ?? 'security advisory',
    repo: null,
    advisory: a,
    at: a.updated_at ?? null,
    payload: { action, url: a.html_url ?? null, packages: packagesOf(vulnerabilities) },
  };
  if (action === 'withdrawn') {
    // Whatever it opened (from this feed or OSV's) is void: resolve it; with nothing open, stored only.
    return advisory(ctx, {
      ...info,
      summary: `${info.summary} (withdrawn)`,
      fingerprint: `advisory:${a.ghsa_id}`,
      resolves: true,
    });
  }
  const result = matchGithubAdvisory(vulnerabilities, ctx.inventory());
  if (result.matches.length > 0) return matched(ctx, info, result.matches);
  return ignore(
    `security_advisory ${a.ghsa_id} affects nothing in the inventory: ${result.ignored.join('; ')}`,
  );
}

export function repositoryAdvisory(body: unknown, ctx: GithubCtx): Normalised<GithubOutcome> {
  const parsed = parse(repositoryAdvisorySchema, body);
  if (!parsed.ok) return parsed;
  const { action, repository: repo, repository_advisory: a } = parsed.value;
  if (action !== 'published' && action !== 'reported') {
    return ignore(`repository_advisory ${action}: only published and reported are signals`);
  }
  const vulnerabilities: GithubVulnerability[] = (a.vulnerabilities ?? []).map((v) => ({
    ecosystem: v.package?.ecosystem ?? null,
    name: v.package?.name ?? null,
    vulnerable: v.vulnerable_version_range ?? null,
    patched: v.patched_versions ?? null,
  }));
  const info: AdvisoryInfo = {
    ghsa: a.ghsa_id,
    summary: a.summary ?? 'repository advisory',
    repo: repo.full_name,
    advisory: a,
    at: a.updated_at ?? null,
    payload: { action, url: a.html_url ?? null, packages: packagesOf(vulnerabilities) },
  };
  // About a repository of yours: a signal whether or not you also run the package.
  const result = matchGithubAdvisory(vulnerabilities, ctx.inventory());
  if (result.matches.length > 0) return matched(ctx, info, result.matches);
  return advisory(ctx, { ...info, fingerprint: `advisory:${a.ghsa_id}`, resolves: false });
}

const DEPENDABOT_OPEN = ['created', 'reopened', 'reintroduced', 'auto_reopened'];
const DEPENDABOT_CLOSE = ['fixed', 'dismissed', 'auto_dismissed'];

export function dependabotAlert(body: unknown, ctx: GithubCtx): Normalised<GithubOutcome> {
  const parsed = parse(dependabotAlertSchema, body);
  if (!parsed.ok) return parsed;
  const { action, repository: repo, alert } = parsed.value;
  const opens = DEPENDABOT_OPEN.includes(action);
  if (!opens && !DEPENDABOT_CLOSE.includes(action)) {
    return ignore(`dependabot_alert ${action}: not an opening or closing of the alert`);
  }
  const a = alert.security_advisory;
  const v = alert.security_vulnerability;
  const name = v?.package?.name ?? alert.dependency?.package?.name ?? null;
  return advisory(ctx, {
    ghsa: a.ghsa_id,
    fingerprint: `github:dependabot:${repo.full_name}:${alert.number}`,
    summary: `${name ? `${name}: ` : ''}${a.summary ?? 'dependabot alert'}${opens ? '' : ` (${action})`}`,
    repo: repo.full_name,
    advisory: a,
    resolves: !opens,
    at: alert.updated_at ?? null,
    payload: {
      action,
      alert: alert.number,
      url: alert.html_url ?? null,
      ecosystem: v?.package?.ecosystem ?? alert.dependency?.package?.ecosystem ?? null,
      package: name,
      manifest: alert.dependency?.manifest_path ?? null,
      vulnerable: v?.vulnerable_version_range ?? null,
      fixed: v?.first_patched_version?.identifier ?? null,
    },
  });
}
