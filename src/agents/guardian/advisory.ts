/**
 * What guardian reads from an advisory signal, whichever door it came in by: an OSV record matched
 * against the inventory (signals/advisories/match.ts), a GitHub security/repository advisory or Dependabot
 * alert (signals/normalise/github.ts), or a generic event of kind advisory (its `details`). Every
 * value is untrusted data: it is checked for shape and size here, shown to people as data, and only
 * ever reaches an action through a param that passes the catalog's enum or pattern.
 */
import { z } from 'zod';
import { cut } from '../../signals/normalise/common.js';
import type { AgentSignal } from '../runtime/types.js';

export interface AdvisoryPackage {
  readonly ecosystem: string | null;
  readonly name: string | null;
  /** The installed version (OSV matches); null when the source gives only a range. */
  readonly version: string | null;
  readonly vulnerable: string | null;
  /** Versions that fix it, as the source lists them. */
  readonly fixed: readonly string[];
  /** The lowest fixed version above the installed one (OSV matches), else null. */
  readonly upgradeTo: string | null;
  /** Where it is installed: the lockfile or list (or manifest) it came from. */
  readonly where: readonly { readonly file: string; readonly dev: boolean }[];
}

export interface AdvisoryFacts {
  /** The advisory's id first, then its aliases (GHSA-..., CVE-...). */
  readonly ids: readonly string[];
  readonly summary: string | null;
  readonly details: string | null;
  /** How the severity was decided (`CVSS 9.8`, `rating HIGH`), when the source says. */
  readonly basis: string | null;
  readonly score: number | null;
  readonly packages: readonly AdvisoryPackage[];
  /** The advisory's own page (GitHub html_url), if any. */
  readonly page: string | null;
  /** Reference URLs the source lists (http(s) only). */
  readonly references: readonly string[];
  readonly repository: string | null;
}

const MAX_PACKAGES = 20;
const text = (max: number) =>
  z
    .string()
    .transform((s) => cut(s.trim(), max))
    .nullish()
    .catch(null);
const list = (max: number) =>
  z
    .array(z.unknown())
    .catch([])
    .transform((xs) =>
      xs
        .filter((x): x is string => typeof x === 'string' && x.trim() !== '')
        .slice(0, 50)
        .map((s) => cut(s.trim(), max)),
    );
const score = z.number().min(0).max(10).nullish().catch(null);

const osvPayload = z.looseObject({
  id: z.string().min(1).max(256),
  aliases: list(256).optional(),
  summary: text(1000),
  details: text(4000),
  severity: z
    .looseObject({ score, basis: text(100) })
    .nullish()
    .catch(null),
  package: z.looseObject({ ecosystem: text(100), name: text(300), version: text(100) }),
  affected: z
    .array(z.looseObject({ file: z.string().max(1000), dev: z.boolean().catch(false) }))
    .max(1000)
    .catch([]),
  fixed: list(100).optional(),
  upgradeTo: text(100),
  references: list(2000).optional(),
});

const githubPackage = z.looseObject({
  ecosystem: text(100),
  name: text(300),
  vulnerable: text(500),
  fixed: text(500),
});
const githubPayload = z.looseObject({
  ghsa: z.string().min(1).max(100),
  severityBasis: text(100),
  score,
  url: text(2000),
  /** security_advisory / repository_advisory */
  packages: z.array(z.unknown()).max(1000).nullish().catch(null),
  /** dependabot_alert */
  package: text(300),
  ecosystem: text(100),
  manifest: text(1000),
  vulnerable: text(500),
  fixed: text(500),
});

/** What a sender of a generic advisory event may put in `details`: common names, all optional. */
const eventDetails = z.looseObject({
  id: text(256),
  advisory: text(256),
  ghsa: text(256),
  cve: text(256),
  aliases: list(256).optional(),
  summary: text(1000),
  description: text(4000),
  ecosystem: text(100),
  package: text(300),
  name: text(300),
  version: text(100),
  fixed: z
    .union([z.string(), z.array(z.unknown())])
    .nullish()
    .catch(null),
  fixedVersion: text(100),
  file: text(1000),
  lockfile: text(1000),
  cvss: score,
  score,
  url: text(2000),
  references: list(2000).optional(),
  repository: text(300),
});
const eventPayload = z.looseObject({ id: text(200), details: z.unknown() });

function unique(values: readonly (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

function fromOsv(p: z.output<typeof osvPayload>, signal: AgentSignal): AdvisoryFacts {
  return {
    ids: unique([p.id, ...(p.aliases ?? [])]),
    summary: p.summary ?? null,
    details: p.details ?? null,
    basis: p.severity?.basis ?? null,
    score: p.severity?.score ?? null,
    packages: [
      {
        ecosystem: p.package.ecosystem ?? null,
        name: p.package.name ?? null,
        version: p.package.version ?? null,
        vulnerable: null,
        fixed: p.fixed ?? [],
        upgradeTo: p.upgradeTo ?? null,
        where: p.affected.map((a) => ({ file: cut(a.file, 300), dev: a.dev })),
      },
    ],
    page: null,
    references: p.references ?? [],
    repository: signal.service,
  };
}

function fromGithub(p: z.output<typeof githubPayload>, signal: AgentSignal): AdvisoryFacts {
  const packages: AdvisoryPackage[] = [];
  for (const raw of (p.packages ?? []).slice(0, MAX_PACKAGES)) {
    const pkg = githubPackage.safeParse(raw);
    if (!pkg.success) continue;
    packages.push({
      ecosystem: pkg.data.ecosystem ?? null,
      name: pkg.data.name ?? null,
      version: null,
      vulnerable: pkg.data.vulnerable ?? null,
      fixed: unique([pkg.data.fixed]),
      upgradeTo: null,
      where: [],
    });
  }
  if (p.package) {
    packages.push({
      ecosystem: p.ecosystem ?? null,
      name: p.package,
      version: null,
      vulnerable: p.vulnerable ?? null,
      fixed: unique([p.fixed]),
      upgradeTo: null,
      where: p.manifest ? [{ file: p.manifest, dev: false }] : [],
    });
  }
  return {
    ids: [p.ghsa],
    summary: summaryFromTitle(signal.title, p.ghsa),
    details: null,
    basis: p.severityBasis ?? null,
    score: p.score ?? null,
    packages,
    page: p.url ?? null,
    references: [],
    repository: signal.service,
  };
}

function fromEvent(details: unknown, signal: AgentSignal): AdvisoryFacts {
  const parsed = eventDetails.safeParse(details);
  const d = parsed.success ? parsed.data : eventDetails.parse({});
  const fixed = Array.isArray(d.fixed) ? d.fixed : [d.fixed, d.fixedVersion];
  const name = d.package ?? d.name ?? null;
  const file = d.lockfile ?? d.file ?? null;
  const scored = d.cvss ?? d.score ?? null;
  return {
    ids: unique([d.id, d.advisory, d.ghsa, d.cve, ...(d.aliases ?? [])]).map((s) => cut(s, 256)),
    summary: d.summary ?? cut(signal.title, 1000),
    details: d.description ?? null,
    basis: scored === null ? null : `CVSS ${scored.toFixed(1)}`,
    score: scored,
    packages:
      name === null
        ? []
        : [
            {
              ecosystem: d.ecosystem ?? null,
              name,
              version: d.version ?? null,
              vulnerable: null,
              fixed: unique(fixed.map((f) => (typeof f === 'string' ? cut(f.trim(), 100) : null))),
              upgradeTo: null,
              where: file ? [{ file, dev: false }] : [],
            },
          ],
    page: d.url ?? null,
    references: d.references ?? [],
    repository: d.repository ?? signal.service,
  };
}

/** The GitHub title is `<ghsa>[ in <repo>]: <summary>`: the summary is what follows the first `: `. */
function summaryFromTitle(title: string, ghsa: string): string | null {
  if (!title.startsWith(ghsa)) return cut(title, 1000);
  const at = title.indexOf(': ');
  return at === -1 ? null : cut(title.slice(at + 2), 1000);
}

/** Reads an advisory signal; an unknown payload still gives the title as the summary. */
export function advisoryFacts(signal: AgentSignal): AdvisoryFacts {
  if (signal.source === 'osv') {
    const p = osvPayload.safeParse(signal.payload);
    if (p.success) return fromOsv(p.data, signal);
  }
  if (signal.source === 'github') {
    const p = githubPayload.safeParse(signal.payload);
    if (p.success) return fromGithub(p.data, signal);
  }
  const e = eventPayload.safeParse(signal.payload);
  if (signal.source === 'events' && e.success) return fromEvent(e.data.details, signal);
  return fromEvent({}, signal);
}

/** `name@version`, or the name with its vulnerable range, or `(package not named)`. */
export function packageLabel(p: AdvisoryPackage): string {
  const name = p.name ?? '(package not named)';
  if (p.version) return `${name}@${p.version}`;
  return p.vulnerable ? `${name} ${p.vulnerable}` : name;
}

/** An advisory id osv.dev can look up (GHSA-..., CVE-..., PYSEC-..., OSV-...): letters, digits, `-._:`. */
const OSV_ID = /^[A-Za-z][A-Za-z0-9._:-]{2,99}$/;

/** https://osv.dev/vulnerability/<id>, or null when the id is not one osv.dev could hold. */
export function osvLink(id: string): string | null {
  return OSV_ID.test(id) ? `https://osv.dev/vulnerability/${encodeURIComponent(id)}` : null;
}
