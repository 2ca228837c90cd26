/**
 * Error signatures: an online log template miner in the spirit of Drain (He et al., ICWS 2017).
 *
 * Each message is stripped of its header, tokenised and masked (mask.ts), then matched against the
 * templates of the same token count whose first token is the same or a wildcard (Drain's
 * fixed-depth tree: token count, then first token). A template absorbs a message when they differ
 * only where either side is a variable or in "soft" tokens (identifiers, not plain words); the
 * differing positions become `<*>`. Beyond Drain (the rules are in rules.ts and few-valued.ts):
 * - masking before the tree is much broader, and a run of values collapses into one `<*>`, so
 *   variable-length lists (block ids, addresses, numbers) do not split a template;
 * - two plain words that differ are never merged on similarity alone (`opened` / `closed`): when a
 *   template is created, a post-pass merges the templates that differ from it only in the same few
 *   positions once each position has shown enough distinct words, decided per position from what the
 *   lines show (few-valued.ts: 2 in a naming slot or for identifier-shaped words, 5 for the first
 *   word or a verb, 3 for a trailing argument or in a long message...); templates made earlier that
 *   the merged one now covers are absorbed into it;
 * - one `<*>` may cover one extra word of a template of another length (`powered off`), or a name
 *   of a few words with its id glued on (`Google Chrome Helper(<*>)`: a process like any other),
 *   whether the `<*>` was there first or came later (a template that gains a `<*>` is checked too,
 *   and so is every template restored from a snapshot, so templates stored apart before a rule
 *   existed become one signature after an upgrade);
 * - an optional `key: value` part (up to six tokens) does not split a message: the template without
 *   it absorbs the one with it (`request: "<*>"` / `request: "<*>", host: "<*>"`); an optional
 *   `key=value` part does (`rhost=<*>` / `rhost=<*> user=<*>`: two events, as labelled logs count them);
 * - the agreement needed is adaptive: short messages need more of their tokens to agree;
 * - an exact-match cache keyed by the masked message serves repeated shapes without a search.
 *
 * A signature (`s_` + a hash of the template as first seen) is kept when its template generalises;
 * a template merged into another keeps answering through `resolve()` (aliases are persisted). A
 * template stored before a message code opened the message (`AH01630:` was cut with the header) is
 * taken over by the first message with a code in front that is otherwise the same.
 * Memory is bounded: templates, never lines, are kept, at most `maxTemplates` of them (the least
 * recently seen evicted first, a small batch at a time).
 */
import { z } from 'zod';
import { AutonomyError } from '../../process/errors.js';
import { dropKernelStamp, isMessageCode } from './header.js';
import { WILDCARD as MASKED, maskTokens, requoteKeyed, stripHeader, tokenize } from './mask.js';
import {
  compatibleWith,
  coveredBy,
  fitScore,
  hash53,
  MAX_OPTIONAL_TOKENS,
  optionalFits,
  sameLengthMerge,
  shorterFirstTokens,
  shorterSecondTokens,
  softAllowance,
  spanFits,
} from './rules.js';

/** The wildcard, as a module constant (hot loops compare against it). */
const WILDCARD: string = MASKED;

export interface SignatureMatch {
  /** Stable id of the template, e.g. `s_1x9k2m0qz4`. */
  readonly signature: string;
  /** The template, variables as `<*>`. */
  readonly template: string;
  /** True when this message created the template. */
  readonly isNew: boolean;
  /** Messages seen with this template so far (including this one). */
  readonly count: number;
}

/** One template as persisted: plain JSON-safe data. */
export interface TemplateRecord {
  readonly signature: string;
  readonly template: string;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Signatures of templates merged into this one; `resolve()` maps them here. */
  readonly aliases: readonly string[];
  /**
   * The masking rules the template was shaped by (`MASKING_VERSION`); absent in records written
   * before issue 21. A record of an older version is re-shaped on restore (see `insert`).
   */
  readonly masking?: number;
}

/**
 * Bumped when a rule changes what stored templates become: a masking rule that changes their shape
 * (then SHAPES_SINCE moves up to it too), or a rule that makes two stored templates one message. A
 * snapshot holding a record of an older version is re-shaped and re-checked on restore (see
 * `restore`); one of today's version is not, so an ordinary restart does not pay for it. 14: the
 * restore's check across lengths. 15: a keyed quoted value keeps its quotes (`key="<*>"`, where
 * 9 to 14 left a stray closing one: `key=<*>"`).
 */
export const MASKING_VERSION = 15;
/**
 * The oldest version whose templates have today's shapes but one (14 changed no shape; 15 changed
 * only the keyed quoted value, fixed token by token with `requoteKeyed`): newer ones are not
 * re-shaped as a whole.
 */
const SHAPES_SINCE = 13;
/** The version since which a keyed quoted value keeps its quotes. */
const QUOTES_SINCE = 15;
/** On the first restore under new rules, how many templates (the most recently seen) are checked. */
const RESTORE_CHECKED = 5000;
/** The masking version from which a message code (`AH01630:`) opens the message, not the header. */
const CODES_KEPT_SINCE = 8;

export const templateRecordSchema = z.object({
  signature: z.string().min(1).max(64),
  template: z.string().max(100_000),
  count: z.number().int().nonnegative(),
  firstSeen: z.number().finite(),
  lastSeen: z.number().finite(),
  aliases: z.array(z.string().min(1).max(64)),
  masking: z.number().int().positive().optional(),
});

export interface SignatureMinerOptions {
  /** Templates kept at most; the least recently seen is evicted beyond it. Default 50,000. */
  readonly maxTemplates?: number;
  /** Drop a timestamp / level / component header before mining. Default true. */
  readonly stripHeaders?: boolean;
  /** Distinct words a position needs, in the general case, before it becomes `<*>`. Default 5. */
  readonly cardinality?: number;
  /** The clock used when `add` is given no time. */
  readonly now?: () => number;
}

interface Template {
  id: string;
  tokens: string[];
  text: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  aliases: string[];
  bucket: string;
  /** Its key in `openingWithValue` when it opens with `<*>`, else ''. */
  opening: string;
  /** When it was last seen, in adds (see `tick`). */
  used: number;
  /** Set when this template was merged into another or evicted. */
  dead: boolean;
  mergedInto: Template | null;
  /** The masking its shape came from: older only for a restored template that may have lost a code. */
  masking: number;
}

const DEFAULT_MAX_TEMPLATES = 50_000;
const DEFAULT_CARDINALITY = 5;
/** How many templates of one length a new template is compared with (bounds the post-pass). */
const SCAN_LIMIT = 256;
/** Exact-match cache size (masked message -> template); cleared when full. */
const CACHE_LIMIT = 50_000;
/** Aliases kept per template (the oldest are forgotten beyond it). */
const MAX_ALIASES = 256;

function splitTemplate(text: string): string[] {
  return text === '' ? [] : text.split(' ');
}

/** A stored template's tokens: re-shaped by today's masking if an older one shaped it. */
function storedTokens(record: TemplateRecord): string[] {
  const masking = record.masking ?? 0;
  if (masking < SHAPES_SINCE) return reshape(record.template);
  const tokens = splitTemplate(record.template);
  return masking < QUOTES_SINCE ? tokens.map(requoteKeyed) : tokens;
}

/** A stored template's tokens as today's masking shapes them (`<*>` stays `<*>`). */
function reshape(template: string): string[] {
  return template === '' ? [] : maskTokens(tokenize(dropKernelStamp(template)), true);
}

/** `${length} ${first token}`: the templates a message is matched against. */
function bucketOf(tokens: readonly string[]): string {
  return `${tokens.length} ${tokens.length === 0 ? '' : tokens[0]}`;
}

/** `${length} ${second token}` for a template that opens with `<*>`, else ''. */
function openingOf(tokens: readonly string[]): string {
  return tokens.length >= 2 && tokens[0] === WILDCARD ? `${tokens.length} ${tokens[1]}` : '';
}

function addTo<K>(index: Map<K, Set<Template>>, key: K, t: Template): void {
  const set = index.get(key);
  if (set === undefined) index.set(key, new Set([t]));
  else set.add(t);
}

function removeFrom<K>(index: Map<K, Set<Template>>, key: K, t: Template): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(t);
  if (set.size === 0) index.delete(key);
}

export class SignatureMiner {
  private readonly maxTemplates: number;
  private readonly stripHeaders: boolean;
  private readonly cardinality: number;
  private readonly now: () => number;
  /** Live templates by signature. */
  private readonly live = new Map<string, Template>();
  /** Merged signature -> the signature it was merged into (possibly itself merged later). */
  private readonly aliasOf = new Map<string, string>();
  /** `${length} ${first token}` -> templates. */
  private readonly buckets = new Map<string, Set<Template>>();
  private readonly byLength = new Map<number, Set<Template>>();
  /** `${length} ${second token}` -> the templates that open with `<*>` (see `shorterPeers`). */
  private readonly openingWithValue = new Map<string, Set<Template>>();
  private readonly cache = new Map<string, Template>();
  /** Restored templates that older rules may have cut a message code from, by text (see `insert`). */
  private readonly codeless = new Map<string, Template>();
  /** Counts adds: a template's `used` is the tick it was last seen at (the LRU order). */
  private tick = 0;
  /** See `checkedOnRestore`. */
  private checked = 0;

  constructor(options: SignatureMinerOptions = {}) {
    this.maxTemplates = Math.max(1, options.maxTemplates ?? DEFAULT_MAX_TEMPLATES);
    this.stripHeaders = options.stripHeaders ?? true;
    this.cardinality = Math.max(2, options.cardinality ?? DEFAULT_CARDINALITY);
    this.now = options.now ?? Date.now;
  }

  /** Templates kept now. */
  get size(): number {
    return this.live.size;
  }

  /** Stored templates this restore checked against today's rules (0: all were stored under them). */
  get checkedOnRestore(): number {
    return this.checked;
  }

  /** Mine one message (or whole line): its signature and template. Never throws on any string. */
  add(message: string, at?: number): SignatureMatch {
    const when = at ?? this.now();
    const text = this.stripHeaders ? stripHeader(message) : message;
    const tokens = maskTokens(tokenize(text));
    const key = tokens.join(' ');
    let template = this.fromCache(key);
    let isNew = false;
    if (template === null) {
      template = this.match(tokens);
      const heir = template === null && this.codeless.size > 0 ? this.claimCodeless(tokens) : null;
      if (template !== null) {
        if (this.generalise(template, tokens)) template = this.recheck(template, true);
      } else if (heir !== null) {
        template = this.absorbCompatible(heir);
      } else {
        template = this.create(tokens, when);
        isNew = true;
        const merged = this.consolidate(template);
        if (merged !== template) {
          template = merged;
          isNew = false;
        }
      }
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, template);
    }
    template.count += 1;
    if (when > template.lastSeen) template.lastSeen = when;
    if (when < template.firstSeen) template.firstSeen = when;
    template.used = ++this.tick;
    return { signature: template.id, template: template.text, isNew, count: template.count };
  }

  /** The live signature a (possibly merged) signature now answers to, or null when unknown. */
  resolve(signature: string): string | null {
    let id = signature;
    for (let hops = 0; hops < 64; hops++) {
      if (this.live.has(id)) return id;
      const next = this.aliasOf.get(id);
      if (next === undefined) return null;
      id = next;
    }
    return null;
  }

  /** The current template of a signature (following merges), or null. */
  templateOf(signature: string): string | null {
    const id = this.resolve(signature);
    return id === null ? null : ((this.live.get(id) as Template).text ?? null);
  }

  /** Every template, least recently seen first, as plain records (JSON-safe). */
  snapshot(): TemplateRecord[] {
    const order = [...this.live.values()].sort((a, b) => a.used - b.used);
    return order.map((t) => ({
      signature: t.id,
      template: t.text,
      count: t.count,
      firstSeen: t.firstSeen,
      lastSeen: t.lastSeen,
      aliases: [...t.aliases],
      masking: t.masking,
    }));
  }

  /** A miner holding the templates of a snapshot, with the same signatures and aliases. */
  static restore(records: readonly unknown[], options: SignatureMinerOptions = {}): SignatureMiner {
    const miner = new SignatureMiner(options);
    let older = false;
    records.forEach((raw, index) => {
      const parsed = templateRecordSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = `[${index}]${issue?.path.map((p) => `.${String(p)}`).join('') ?? ''}`;
        throw new AutonomyError(
          'SIGNATURES_SNAPSHOT_INVALID',
          `signature snapshot record ${where}: ${issue?.message ?? 'invalid'}; the snapshot is not one SignatureMiner.snapshot() wrote`,
        );
      }
      if (parsed.data.masking !== MASKING_VERSION) older = true;
      miner.insert(parsed.data);
    });
    // A snapshot of today's version was checked as its templates came in: restored as it is.
    if (!older) return miner;
    // A rule added since some templates were stored may make two of them one message: each is
    // checked as the longer of a pair, as a template that gains a `<*>` is, which covers every pair
    // once all are in (the older keeps its id, as in `merge`). Longest first, and a merged shape is
    // checked again, so a chain (`a b c d e` / `a <*> d e` / `<*> d e`) ends as one template whatever
    // order the snapshot holds them in. It runs once: the next save writes every template back
    // under today's version.
    // The most recently seen ones only: a full store of old templates would hold the start for
    // tens of seconds, and those not seen lately get few lines (their ids keep resolving anyway).
    const recent = [...miner.live.values()].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, RESTORE_CHECKED);
    const longestFirst = recent.sort((a, b) => b.tokens.length - a.tokens.length);
    miner.checked = longestFirst.length;
    for (const t of longestFirst) {
      let kept = t;
      while (!kept.dead) {
        const before = kept.text;
        kept = miner.recheck(kept, false, false);
        if (kept.text === before) break;
      }
    }
    return miner;
  }

  /**
   * A template stored under older masking rules takes the shape today's masking gives it (a rule
   * changed: `<*> bytes (<*>) sent` is now `<*> sent`), keeping its signature; two stored
   * templates that now have one shape, or that today's rules make one message (a `<*>` covering a
   * name of several words: `Sandbox: <*> deny` / `Sandbox: Google Chrome Helper(<*>) deny`), are
   * merged (the older keeps its id, the other becomes its alias, counts add up), so every stored
   * signature keeps resolving and new lines land on the stored ids.
   */
  private insert(record: TemplateRecord): void {
    if (this.live.has(record.signature) || this.aliasOf.has(record.signature)) return;
    const tokens = storedTokens(record);
    const text = tokens.join(' ');
    const t: Template = {
      id: record.signature,
      tokens,
      text,
      count: record.count,
      firstSeen: record.firstSeen,
      lastSeen: record.lastSeen,
      aliases: [...record.aliases],
      bucket: '',
      opening: '',
      used: ++this.tick,
      dead: false,
      mergedInto: null,
      masking: MASKING_VERSION,
    };
    // Older rules cut a message code off with the header: the first of today's templates that is
    // this one with a code in front takes it over (`claimCodeless`), so its id keeps getting lines.
    if (
      (record.masking ?? 0) < CODES_KEPT_SINCE &&
      tokens.length > 0 &&
      !isMessageCode(tokens[0] as string)
    ) {
      t.masking = record.masking ?? 1;
      this.codeless.set(text, t);
    }
    for (const alias of t.aliases) this.aliasOf.set(alias, t.id);
    this.index(t);
    this.live.set(t.id, t);
    const same = this.fromCache(text);
    if (same !== null && same !== t) this.cache.set(text, this.merge([same, t], null));
    else this.cache.set(text, t);
    this.evictOverflow();
  }

  /**
   * The check a template gets when it gains a `<*>`, and each restored template: a template of
   * another length may cover it, or it may now cover one (`absorbLonger`), as for a new template;
   * a shape that changed is then compared with the templates of its own length. Shorter templates
   * are looked up by their opening tokens (`shorterPeers`) and each step reads at most `SCAN_LIMIT`
   * templates per length, so restoring n templates costs O(n), not a pass over every pair.
   */
  private recheck(t: Template, changed: boolean, absorbLonger = true): Template {
    const before = t.text;
    const across = this.mergeAcrossLengths(t, absorbLonger);
    return changed || across.text !== before ? this.absorbCompatible(across) : across;
  }

  /**
   * A message opening with a code (`AH01630: client denied ...`) that no template matches, when a
   * template restored from older rules is the same message without the code: that template takes
   * the code and keeps its id (the first code to come claims it; another code is another message).
   */
  private claimCodeless(tokens: readonly string[]): Template | null {
    if (tokens.length < 2 || !isMessageCode(tokens[0] as string)) return null;
    const key = tokens.slice(1).join(' ');
    const t = this.codeless.get(key);
    if (t === undefined) return null;
    this.codeless.delete(key);
    if (t.dead) return null;
    this.unindex(t);
    this.cache.delete(t.text);
    t.tokens = [...tokens];
    t.text = tokens.join(' ');
    t.masking = MASKING_VERSION;
    this.index(t);
    return t;
  }

  private fromCache(key: string): Template | null {
    let t = this.cache.get(key);
    if (t === undefined) return null;
    while (t.mergedInto !== null) t = t.mergedInto;
    if (t.dead) {
      this.cache.delete(key);
      return null;
    }
    return t;
  }

  /** The best template for a message among those sharing its length and first token (or `<*>`). */
  private match(tokens: readonly string[]): Template | null {
    const n = tokens.length;
    const soft = softAllowance(n);
    let best: Template | null = null;
    let bestScore = -1;
    const first = n === 0 ? '' : (tokens[0] as string);
    const own = this.buckets.get(`${n} ${first}`);
    const wild = first === WILDCARD ? undefined : this.buckets.get(`${n} ${WILDCARD}`);
    for (const set of [own, wild]) {
      if (set === undefined) continue;
      for (const t of set) {
        const score = fitScore(t.tokens, tokens, soft);
        if (score > bestScore) {
          best = t;
          bestScore = score;
        }
      }
    }
    return best;
  }

  /** Put `<*>` where the template and the message differ; true when the template changed. */
  private generalise(t: Template, tokens: readonly string[]): boolean {
    let changed = false;
    for (let i = 0; i < t.tokens.length; i++) {
      if (t.tokens[i] !== tokens[i] && t.tokens[i] !== WILDCARD) {
        t.tokens[i] = WILDCARD;
        changed = true;
      }
    }
    if (!changed) return false;
    t.text = t.tokens.join(' ');
    this.reindex(t);
    return true;
  }

  private create(tokens: readonly string[], at: number): Template {
    const text = tokens.join(' ');
    let id = '';
    for (let seed = 0; ; seed++) {
      id = `s_${hash53(text, seed).toString(36)}`;
      if (!this.live.has(id) && !this.aliasOf.has(id)) break;
    }
    const t: Template = {
      id,
      tokens: [...tokens],
      text,
      count: 0,
      firstSeen: at,
      lastSeen: at,
      aliases: [],
      bucket: '',
      opening: '',
      used: ++this.tick,
      dead: false,
      mergedInto: null,
      masking: MASKING_VERSION,
    };
    this.index(t);
    this.live.set(id, t);
    this.evictOverflow();
    return t;
  }

  /**
   * The post-pass, run when a template is created: merge it with templates that differ from it only
   * (a) in soft tokens, across first tokens the tree kept apart; (b) in a few word positions, once
   * each of those positions has shown enough distinct words (`distinctNeeded`); (c) in the length of
   * a span an existing `<*>` covers (variable-length values). Returns the surviving template.
   */
  private consolidate(fresh: Template): Template {
    return this.absorbCompatible(this.mergeAcrossLengths(this.mergeSameLength(fresh)));
  }

  /**
   * Templates of the same length that a template now agrees with wherever neither has `<*>`
   * (`a <*> c d` and `a b c <*>`) are one event that was generalised in a different order: they
   * are merged, so the result does not depend on which lines came first.
   */
  private absorbCompatible(t: Template): Template {
    let survivor = t;
    // each round removes templates, and the merged one may have gained a `<*>`: until none is left
    for (;;) {
      const peers = this.byLength.get(survivor.tokens.length);
      if (peers === undefined || peers.size < 2) return survivor;
      const compatible = compatibleWith(survivor.tokens, peers, SCAN_LIMIT);
      if (compatible.length === 0) return survivor;
      const before = survivor.text;
      survivor = this.merge([survivor, ...compatible], null);
      if (survivor.text === before) return survivor;
    }
  }

  private mergeSameLength(fresh: Template): Template {
    const peers = this.byLength.get(fresh.tokens.length);
    if (peers === undefined) return fresh;
    const members = sameLengthMerge(fresh, peers, this.cardinality, SCAN_LIMIT);
    if (members === null) return fresh;
    const merged = this.merge(members, null);
    // Templates made before a position turned out to be a value, and that differ from the merged one
    // only there (`died: svc CEM` once `died: <*> <*>` exists), are instances of it: absorbed.
    const instances = coveredBy(merged.tokens, peers, SCAN_LIMIT);
    return instances.length === 0 ? merged : this.merge([merged, ...instances], null);
  }

  /**
   * Variable-length values: a template whose `<*>` can cover a longer span of a template of another
   * length, everything else equal, absorbs it (`has been <*> by` / `has been powered off by`):
   * `t` is merged into the first shorter template that covers it, else (`absorbLonger`) absorbs
   * the longer ones it covers.
   */
  private mergeAcrossLengths(t: Template, absorbLonger = true): Template {
    const n = t.tokens.length;
    for (let d = 1; d <= MAX_OPTIONAL_TOKENS && d < n; d++) {
      if (!this.byLength.has(n - d)) continue;
      let scanned = 0;
      for (const shorter of this.shorterPeers(t.tokens, d)) {
        for (const s of shorter) {
          if (++scanned > SCAN_LIMIT) break;
          if (spanFits(s.tokens, t.tokens) || optionalFits(s.tokens, t.tokens))
            return this.merge([t, s], s.tokens);
        }
      }
    }
    if (!absorbLonger) return t;
    const absorbed: Template[] = [];
    const spans = t.tokens.includes(WILDCARD);
    for (let d = 1; d <= MAX_OPTIONAL_TOKENS; d++) {
      const longer = this.byLength.get(n + d);
      if (longer === undefined) continue;
      let scanned = 0;
      for (const l of longer) {
        if (++scanned > SCAN_LIMIT) break;
        if ((spans && spanFits(t.tokens, l.tokens)) || optionalFits(t.tokens, l.tokens)) absorbed.push(l);
      }
    }
    return absorbed.length === 0 ? t : this.merge([t, ...absorbed], t.tokens);
  }

  /**
   * The templates `d` tokens shorter than `tokens` that can cover it (rules.ts, `spanFits`,
   * `optionalFits`), looked up by the first tokens they can open with, and by the second token
   * when they open with `<*>`: a template of another length is compared with few, not all.
   */
  private shorterPeers(tokens: readonly string[], d: number): Set<Template>[] {
    const m = tokens.length - d;
    const out: Set<Template>[] = [];
    for (const first of new Set(shorterFirstTokens(tokens, d))) {
      const set = first === WILDCARD ? undefined : this.buckets.get(`${m} ${first}`);
      if (set !== undefined) out.push(set);
    }
    for (const second of new Set([...shorterSecondTokens(tokens, d), WILDCARD])) {
      const set = this.openingWithValue.get(`${m} ${second}`);
      if (set !== undefined) out.push(set);
    }
    return out;
  }

  /**
   * Merge templates into the oldest one; the others become its aliases (but not one created by the
   * message being added, whose id nobody has seen). `shape` is the merged template when the
   * templates differ in length; otherwise they are generalised position by position.
   */
  private merge(group: readonly Template[], shape: readonly string[] | null): Template {
    const unique = [...new Set(group)];
    const sorted = unique.sort(
      (x, y) => x.firstSeen - y.firstSeen || y.count - x.count || (x.id < y.id ? -1 : 1),
    );
    const survivor = sorted[0] as Template;
    const oldLength = survivor.tokens.length;
    if (shape !== null && shape.length !== oldLength) {
      this.unindex(survivor);
      survivor.tokens = [...shape];
    }
    for (const other of sorted.slice(1)) {
      if (other.tokens.length === survivor.tokens.length) {
        for (let i = 0; i < survivor.tokens.length; i++) {
          if (survivor.tokens[i] !== other.tokens[i]) survivor.tokens[i] = WILDCARD;
        }
      }
      survivor.count += other.count;
      survivor.firstSeen = Math.min(survivor.firstSeen, other.firstSeen);
      survivor.lastSeen = Math.max(survivor.lastSeen, other.lastSeen);
      const ids = other.count > 0 ? [other.id, ...other.aliases] : other.aliases;
      survivor.aliases.push(...ids);
      for (const alias of ids) this.aliasOf.set(alias, survivor.id);
      if (survivor.aliases.length > MAX_ALIASES) {
        for (const gone of survivor.aliases.splice(0, survivor.aliases.length - MAX_ALIASES))
          this.aliasOf.delete(gone);
      }
      this.unindex(other);
      this.live.delete(other.id);
      other.dead = true;
      other.mergedInto = survivor;
    }
    survivor.text = survivor.tokens.join(' ');
    if (survivor.tokens.length !== oldLength) this.index(survivor);
    else this.reindex(survivor);
    return survivor;
  }

  private index(t: Template): void {
    const n = t.tokens.length;
    t.bucket = bucketOf(t.tokens);
    t.opening = openingOf(t.tokens);
    addTo(this.buckets, t.bucket, t);
    if (t.opening !== '') addTo(this.openingWithValue, t.opening, t);
    addTo(this.byLength, n, t);
  }

  private unindex(t: Template): void {
    removeFrom(this.buckets, t.bucket, t);
    if (t.opening !== '') removeFrom(this.openingWithValue, t.opening, t);
    removeFrom(this.byLength, t.tokens.length, t);
  }

  private reindex(t: Template): void {
    if (bucketOf(t.tokens) === t.bucket && openingOf(t.tokens) === t.opening) return;
    this.unindex(t);
    this.index(t);
  }

  /**
   * Beyond the cap, evict the least recently seen templates, a small batch at a time so that the
   * order is only worked out once per batch (not on every add).
   */
  private evictOverflow(): void {
    if (this.live.size <= this.maxTemplates) return;
    const target = this.maxTemplates - Math.max(0, Math.floor(this.maxTemplates / 64) - 1);
    const order = [...this.live.values()].sort((a, b) => a.used - b.used);
    for (const oldest of order.slice(0, this.live.size - target)) {
      this.live.delete(oldest.id);
      this.unindex(oldest);
      for (const alias of oldest.aliases) this.aliasOf.delete(alias);
      oldest.dead = true;
    }
  }
}
