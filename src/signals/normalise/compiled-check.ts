/**
 * A compiled yes/no check for a zod schema, for a webhook's hot path. zod parses by building a
 * checked copy of the body (and its issues); in the ingest bench that copy, and the garbage it
 * leaves, cost about 4 µs of a 52 µs request. The same schema as JSON Schema (z.toJSONSchema),
 * compiled by ajv, checks the parsed body in place and says only yes or no.
 *
 * zod stays the one schema and the one source of problems: a body the check refuses goes through
 * zod, which says what is wrong; a body it accepts is one zod accepts as it is (the schema has no
 * transforms, so zod's output would be the body itself, minus keys nobody reads). JSON Schema
 * cannot say what a refinement says, so each refinement names a format (`.meta({ format })`) and
 * the caller gives that format's function; a refinement without one, a transform or a default
 * would make the check say yes where zod says no (or gives something else), so compiling refuses
 * the ones it sees, loudly, on first use. That guard is a help, not a proof (a refined schema used
 * in two places is seen once): each schema compiled here has a property test that the check and
 * zod agree (test/signals/normalise/compiled-check.test.ts). Lengths count code points and patterns run without
 * the u flag, as zod does.
 */
import { Ajv } from 'ajv';
import { z } from 'zod';

/** A refinement's check, by the format name its schema carries in `.meta({ format })`. */
export type Formats = Readonly<Record<string, (text: string) => boolean>>;

/** True when the value is one `schema.safeParse` accepts, unchanged. */
export type Check = (value: unknown) => boolean;

interface ZodInternals {
  readonly _zod: {
    readonly def: {
      readonly type: string;
      readonly checks?: readonly ZodInternals[];
      readonly check?: string;
    };
  };
}

function refuse(why: string): never {
  throw new Error(`compiledCheck: ${why}; the compiled check would accept bodies zod refuses`);
}

/** Compiles `schema` (once, on first use) into a Check. Throws when it cannot be exact (see above). */
export function compiledCheck(schema: z.ZodType, formats: Formats): Check {
  let compiled: Check | null = null;
  return (value) => {
    compiled ??= compile(schema, formats);
    return compiled(value);
  };
}

function compile(schema: z.ZodType, formats: Formats): Check {
  // Each place in the schema (a JSON path) and the refinements seen there: did one of the schemas
  // zod went through for that place (a refined one, its .meta() copy, an .optional() around it)
  // give it a format? zod merges them into the place's JSON Schema.
  const places = new Map<string, Map<unknown, boolean>>();
  const json = z.toJSONSchema(schema, {
    target: 'draft-7',
    io: 'input',
    override: (ctx) => {
      const def = (ctx.zodSchema as unknown as ZodInternals)._zod.def;
      if (def.type === 'pipe' || def.type === 'transform') refuse('the schema transforms its input');
      if (def.type === 'default' || def.type === 'prefault') refuse('the schema fills in defaults');
      const customs = (def.checks ?? []).filter((c) => c._zod.def.check === 'custom');
      if (customs.length === 0) return;
      if (ctx.jsonSchema.type !== 'string') refuse('a refinement checks something other than a string');
      const format = ctx.jsonSchema.format;
      const named = typeof format === 'string' && formats[format] !== undefined;
      const place = ctx.path.join('/');
      const seen = places.get(place) ?? new Map<unknown, boolean>();
      places.set(place, seen);
      for (const c of customs) seen.set(c, (seen.get(c) ?? false) || named);
    },
  });
  for (const [place, seen] of places) {
    if ([...seen.values()].includes(false)) {
      refuse(`the refinement at /${place} has no format (add .meta({ format }) and its function)`);
    }
  }
  const ajv = new Ajv({
    // As zod: patterns without the u flag (lengths count code points in both).
    unicodeRegExp: false,
    // Anything ajv would only warn about is an error here.
    logger: {
      log: () => {},
      warn: (...args: unknown[]) => refuse(`ajv: ${args.map(String).join(' ')}`),
      error: (...args: unknown[]) => refuse(`ajv: ${args.map(String).join(' ')}`),
    },
    allErrors: false,
    strict: true,
    formats: { ...formats },
  });
  const validate = ajv.compile(json);
  return (value) => validate(value) === true;
}
