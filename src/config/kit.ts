/**
 * A tiny schema kit: each parser checks one value and records every problem with its path, so a bad config
 * reports all of its errors at once (`issuers[0].audiences: required`). Defaults live in the schema.
 */
export const INVALID = Symbol('invalid');
export type Parsed<T> = T | typeof INVALID;
export type Parser<T> = (value: unknown, path: string, errors: string[]) => Parsed<T>;

const bad = (errors: string[], path: string, message: string): typeof INVALID => {
  errors.push(`${path}: ${message}`);
  return INVALID;
};

const describe = (v: unknown): string => (Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'a mapping' : JSON.stringify(v));

export function string(check?: (s: string) => string | null): Parser<string> {
  return (v, path, errors) => {
    if (typeof v !== 'string') return bad(errors, path, `must be a string, got ${describe(v)}`);
    const problem = check?.(v);
    return problem ? bad(errors, path, problem) : v;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return (v, path, errors) =>
    typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : bad(errors, path, `must be one of ${values.join(', ')}, got ${describe(v)}`);
}

/** Any JSON value, checked elsewhere (e.g. JWK members, checked when the key set is parsed). */
export const anything: Parser<unknown> = (v) => v;

export const boolean: Parser<boolean> = (v, path, errors) =>
  typeof v === 'boolean' ? v : bad(errors, path, `must be true or false, got ${describe(v)}`);

export function integer(min: number, max: number): Parser<number> {
  return (v, path, errors) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : bad(errors, path, `must be a whole number from ${min} to ${max}, got ${describe(v)}`);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "30s", "5m", "1h", "1h30m" → milliseconds. A bare number is refused: its unit would be a guess. */
export function duration(min = 0): Parser<number> {
  return (v, path, errors) => {
    if (typeof v !== 'string' || !/^(\d+(ms|s|m|h))+$/.test(v)) {
      return bad(errors, path, `must be a duration like "30s", "5m" or "1h", got ${describe(v)}`);
    }
    let ms = 0;
    for (const [, n, unit] of v.matchAll(/(\d+)(ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit!]!;
    return ms < min ? bad(errors, path, `must be at least ${min}ms`) : ms;
  };
}

export function array<T>(item: Parser<T>, opts: { min?: number; unique?: boolean } = {}): Parser<T[]> {
  return (v, path, errors) => {
    if (!Array.isArray(v)) return bad(errors, path, `must be a list, got ${describe(v)}`);
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
  };
}

/** A mapping with free keys (e.g. claim → header). */
export function record<T>(value: Parser<T>, key?: (k: string) => string | null): Parser<Record<string, T>> {
  return (v, path, errors) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(errors, path, `must be a mapping, got ${describe(v)}`);
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
  };
}

export interface Field<T> {
  readonly parse: Parser<T>;
  /** Absent and no default → `required`. */
  readonly default?: T;
  readonly optional?: boolean;
}

export const req = <T>(parse: Parser<T>): Field<T> => ({ parse });
export const opt = <T>(parse: Parser<T>): Field<T | undefined> => ({ parse, optional: true });
export const def = <T>(parse: Parser<T>, value: NoInfer<T>): Field<T> => ({ parse, default: value });

type Shape = Record<string, Field<unknown>>;

/**
 * A mapping whose every key has a default: absent, empty (`key:` with nothing, i.e. null) and `{}` all give the same
 * value, derived from the shape itself, so each default is written once.
 */
export function section<S extends Shape>(shape: S): Field<Out<S>> {
  const parse = object(shape);
  const errors: string[] = [];
  const value = parse({}, '', errors);
  if (value === INVALID) throw new Error(`a section needs a default for every key: ${errors.join('; ')}`);
  return { parse, default: value };
}
export type Out<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

/** A mapping with known keys: unknown keys are errors (typos must not be silently ignored). */
export function object<S extends Shape>(shape: S): Parser<Out<S>> {
  return (v, path, errors) => {
    const at = (k: string) => (path === '' ? k : `${path}.${k}`);
    if (v === undefined || v === null) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) return bad(errors, path || '(top level)', `must be a mapping, got ${describe(v)}`);
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
  };
}
