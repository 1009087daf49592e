/**
 * A tiny schema kit: each parser checks one value and records every problem with its path, so a bad config
 * reports all of its errors at once (`issuers[0].audiences: required`). Defaults live in the schema.
 */
export const INVALID = Symbol('invalid');
export type Parsed<T> = T | typeof INVALID;
/**
 * A parser, and what it accepts as a JSON Schema (`portcullis schema`, src/config/json-schema.ts). The kit's own
 * parsers carry it; a hand-written parser gets it from `withSchema`, composed from the parsers it calls, so the schema
 * is generated from the code that validates a start and cannot drift from it.
 */
export type Parser<T> = ((value: unknown, path: string, errors: string[]) => Parsed<T>) & { readonly schema?: SchemaInfo };

export type JsonSchema = { readonly [key: string]: unknown };
/** `ref(parser, path)`: the schema of another parser (a `$ref` for named ones); `path` names it in errors. */
export type SchemaRef = (parser: Parser<unknown>, path: string) => JsonSchema;
export interface SchemaInfo {
  readonly json: (ref: SchemaRef, path: string) => JsonSchema;
  /** A parsed value back in its YAML form (a duration's milliseconds → "5m"), for the schema's defaults. */
  readonly encode?: (value: unknown) => unknown;
  /** Emitted once under `$defs` and referenced (recursive parsers such as requirements). */
  readonly name?: string;
}

/** Attaches schema metadata to a parser (kept as the same function). */
export function withSchema<P extends Parser<unknown>>(parser: P, json: SchemaInfo['json'], more: Omit<SchemaInfo, 'json'> = {}): P {
  return Object.assign(parser, { schema: { json, ...more } });
}

/** A parsed value in its YAML form, through the parser's own encoder. */
export function encodeValue(parser: Parser<unknown>, value: unknown): unknown {
  return parser.schema?.encode === undefined || value === undefined ? value : parser.schema.encode(value);
}

const bad = (errors: string[], path: string, message: string): typeof INVALID => {
  errors.push(`${path}: ${message}`);
  return INVALID;
};

const shown = (v: unknown): string => (Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'a mapping' : JSON.stringify(v));

export function string(check?: (s: string) => string | null): Parser<string> {
  return withSchema((v, path, errors) => {
    if (typeof v !== 'string') return bad(errors, path, `must be a string, got ${shown(v)}`);
    const problem = check?.(v);
    return problem ? bad(errors, path, problem) : v;
  }, () => ({ type: 'string' }));
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return withSchema((v, path, errors) =>
    typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : bad(errors, path, `must be one of ${values.join(', ')}, got ${shown(v)}`),
  () => ({ enum: [...values] }));
}

/** Any JSON value, checked elsewhere (e.g. JWK members, checked when the key set is parsed). */
export const anything: Parser<unknown> = withSchema((v) => v, () => ({}));

export const boolean: Parser<boolean> = withSchema((v, path, errors) =>
  typeof v === 'boolean' ? v : bad(errors, path, `must be true or false, got ${shown(v)}`), () => ({ type: 'boolean' }));

/** Exactly this value (`present: true`). */
export function literal<T extends string | number | boolean>(value: T): Parser<T> {
  return withSchema((v, path, errors) => (v === value ? value : bad(errors, path, `must be ${JSON.stringify(value)}`)), () => ({ const: value }));
}

export function integer(min: number, max: number): Parser<number> {
  return withSchema((v, path, errors) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : bad(errors, path, `must be a whole number from ${min} to ${max}, got ${shown(v)}`),
  () => ({ type: 'integer', minimum: min, maximum: max }));
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const DURATION = /^(\d+(ms|s|m|h))+$/;

/** Milliseconds as the shortest duration text ("1h30m", "50ms", "0s"): how a default shows in the schema. */
export function formatDuration(ms: number): string {
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out === '' ? '0s' : out;
}

/** "250ms", "30s", "5m", "1h", "1h30m" → milliseconds. A bare number is refused: its unit would be a guess. */
export function duration(min = 0): Parser<number> {
  return withSchema((v, path, errors) => {
    if (typeof v !== 'string' || !DURATION.test(v)) {
      return bad(errors, path, `must be a duration like "30s", "5m" or "1h", got ${shown(v)}`);
    }
    let ms = 0;
    for (const [, n, unit] of v.matchAll(/(\d+)(ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return ms < min ? bad(errors, path, `must be at least ${min}ms`) : ms;
  }, () => ({ type: 'string', pattern: DURATION.source }), { encode: (ms) => formatDuration(ms as number) });
}

export function array<T>(item: Parser<T>, opts: { min?: number; unique?: boolean } = {}): Parser<T[]> {
  return withSchema((v, path, errors) => {
    if (!Array.isArray(v)) return bad(errors, path, `must be a list, got ${shown(v)}`);
    if (opts.min !== undefined && v.length < opts.min) return bad(errors, path, opts.min === 1 ? 'must not be empty' : `needs at least ${opts.min} entries`);
    const out: T[] = [];
    let ok = true;
    v.forEach((x, i) => {
      const r = item(x, `${path}[${i}]`, errors);
      if (r === INVALID) ok = false;
      else out.push(r);
    });
    if (ok && opts.unique && new Set(out.map((x) => JSON.stringify(x))).size !== out.length) return bad(errors, path, 'has duplicate entries');
    return ok ? out : INVALID;
  }, (ref, path) => ({
    type: 'array',
    items: ref(item, `${path}[]`),
    ...(opts.min !== undefined ? { minItems: opts.min } : {}),
    ...(opts.unique ? { uniqueItems: true } : {}),
  }), { encode: (v) => (v as unknown[]).map((x) => encodeValue(item, x)) });
}

/** A mapping with free keys (e.g. claim → header). */
export function record<T>(value: Parser<T>, key?: (k: string) => string | null): Parser<Record<string, T>> {
  return withSchema((v, path, errors) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(errors, path, `must be a mapping, got ${shown(v)}`);
    const out: Record<string, T> = {};
    let ok = true;
    for (const [k, x] of Object.entries(v)) {
      const problem = key?.(k);
      if (problem) { bad(errors, `${path}.${k}`, problem); ok = false; continue; }
      const r = value(x, `${path}.${k}`, errors);
      if (r === INVALID) ok = false;
      else out[k] = r;
    }
    return ok ? out : INVALID;
  }, (ref, path) => ({ type: 'object', additionalProperties: ref(value, `${path}.*`) }), {
    encode: (v) => Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, encodeValue(value, x)])),
  });
}

export interface Field<T> {
  readonly parse: Parser<T>;
  /** Absent and no default → `required`. */
  readonly default?: T;
  readonly optional?: boolean;
  /** What the key means, in docs/configuration.md's words: the JSON Schema's description (editors show it). */
  readonly description?: string;
  /** Made by `section`: its default is spelled out by its own keys' defaults. */
  readonly section?: boolean;
}

const described = (description: string | undefined) => (description === undefined ? {} : { description });
export const req = <T>(parse: Parser<T>, description?: string): Field<T> => ({ parse, ...described(description) });
export const opt = <T>(parse: Parser<T>, description?: string): Field<T | undefined> => ({ parse, optional: true, ...described(description) });
export const def = <T>(parse: Parser<T>, value: NoInfer<T>, description?: string): Field<T> => ({ parse, default: value, ...described(description) });

type Shape = Record<string, Field<unknown>>;

/**
 * A mapping whose every key has a default: absent, empty (`key:` with nothing, i.e. null) and `{}` all give the same
 * value, derived from the shape itself, so each default is written once.
 */
export function section<S extends Shape>(shape: S, description?: string): Field<Out<S>> {
  const parse = object(shape);
  const errors: string[] = [];
  const value = parse({}, '', errors);
  if (value === INVALID) throw new Error(`a section needs a default for every key: ${errors.join('; ')}`);
  return { parse, default: value, section: true, ...described(description) };
}
export type Out<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** A mapping with known keys: unknown keys are errors (typos must not be silently ignored). */
export function object<S extends Shape>(shape: S): Parser<Out<S>> {
  return withSchema((v, path, errors) => {
    const at = (k: string) => (path === '' ? k : `${path}.${k}`);
    if (v === undefined || v === null) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) return bad(errors, path || '(top level)', `must be a mapping, got ${shown(v)}`);
    const input = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const k of Object.keys(input)) {
      if (!(k in shape)) { bad(errors, at(k), `unknown key (known: ${Object.keys(shape).join(', ')})`); ok = false; }
    }
    for (const [k, field] of Object.entries(shape)) {
      if (input[k] === undefined) {
        if ('default' in field) out[k] = field.default;
        else if (!field.optional) { bad(errors, at(k), 'required'); ok = false; }
        continue;
      }
      const r = field.parse(input[k], at(k), errors);
      if (r === INVALID) ok = false;
      else out[k] = r;
    }
    return ok ? (out as Out<S>) : INVALID;
  }, (ref, path) => objectSchema(shape, ref, path), {
    encode: (v) => {
      const out: Record<string, unknown> = {};
      for (const [k, field] of Object.entries(shape)) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = encodeValue(field.parse, x);
      }
      return out;
    },
  });
}

/**
 * The JSON Schema of a shape: every key with its description and default (in YAML form; a section's default is
 * spelled out by its own keys), unknown keys refused as the parser refuses them, and null accepted where the parser
 * reads it as {} (an empty `cache:`), i.e. when no key is required.
 */
function objectSchema(shape: Shape, ref: SchemaRef, path: string): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [k, field] of Object.entries(shape)) {
    const at = path === '' ? k : `${path}.${k}`;
    const isSection = field.section === true;
    properties[k] = {
      ...ref(field.parse, at),
      ...described(field.description),
      ...('default' in field && !isSection ? { default: encodeValue(field.parse, field.default) } : {}),
    };
    if (!('default' in field) && !field.optional) required.push(k);
  }
  return {
    type: required.length === 0 ? ['object', 'null'] : 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  };
}

/**
 * A mapping with exactly one of the shape's keys (a claim condition: `{equals: V}` or `{one_of: [...]}` or …).
 * `message` says what is wanted when it has none, several or an unknown one.
 */
export function exactlyOne<S extends Shape>(shape: S, message: string): Parser<Partial<Out<S>>> {
  const parse = object(shape);
  return withSchema((v, path, errors) => {
    const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : [];
    const key = keys[0]!;
    if (keys.length !== 1 || !(key in shape)) return bad(errors, path, message);
    const r = shape[key]!.parse((v as Record<string, unknown>)[key], `${path}.${key}`, errors);
    return r === INVALID ? INVALID : ({ [key]: r } as Partial<Out<S>>);
  }, (ref, path) => {
    // Each key alone is the whole mapping: none is "required" beside the others.
    const { required: _, ...rest } = parse.schema!.json(ref, path);
    return { ...rest, type: 'object', minProperties: 1, maxProperties: 1 };
  });
}

/** A parser defined in terms of itself (requirements nest in `any`/`all`): built on first use, `name` in `$defs`. */
export function recursive<T>(name: string, build: () => Parser<T>): Parser<T> {
  let built: Parser<T> | undefined;
  const get = () => (built ??= build());
  return withSchema((v, path, errors) => get()(v, path, errors), (ref, path) => get().schema!.json(ref, path), { name });
}
