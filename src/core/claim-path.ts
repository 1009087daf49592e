/**
 * Claim paths: the one way a configured claim name reaches into a verified payload. Used by `require.claims`,
 * identity headers (global and per rule), `required_claims` and `sign.claims_from_token`.
 *
 * A name is split at its dots, and every way of grouping the pieces into keys that exist in this token is tried:
 * `realm_access.roles` walks into `{realm_access: {roles}}`; `kubernetes.io.namespace` reaches
 * `{"kubernetes.io": {namespace}}`; `https://example.com/roles` reaches a top-level claim with dots in its name.
 * Exactly one grouping must resolve. Two resolutions in one token make the name AMBIGUOUS, which every caller
 * treats as "missing, and fail closed" (a requirement not met as an error, an empty header).
 *
 * Only own properties of plain objects are walked (never arrays, never inherited keys such as `__proto__` or
 * `constructor`). The work is bounded by the token, not by the number of groupings: a payload is a tree, so each
 * of its objects is visited at most once (with one position in the name), and the walk stops at the second
 * resolution. A hostile token with many dotted keys costs at most (its objects) × (the name's pieces) lookups.
 */

type Claims = Readonly<Record<string, unknown>>;

/** The name resolves in more than one way in this token: callers treat it as missing, fail closed. */
export const AMBIGUOUS: unique symbol = Symbol('ambiguous claim path');
export type ClaimValue = unknown | typeof AMBIGUOUS;

/** A resolution: the value and the keys that led to it (for rebuilding the claim elsewhere, and for explain). */
export type ClaimLookup =
  | { readonly kind: 'found'; readonly value: unknown; readonly keys: readonly string[] }
  | { readonly kind: 'missing' }
  | { readonly kind: 'ambiguous' };

/**
 * A name compiled once: `row(i)[k]` is the key made of pieces i..i+k joined with dots, so the walk never builds a
 * string per request. Rows are built on first use (row 0 at once; a later row only when some token has an object
 * at that position), so even a very long configured name costs little. Names come only from configuration, never
 * from a token, so the memo below is bounded by the config.
 */
class Compiled {
  readonly pieces: number;
  readonly #parts: readonly string[];
  readonly #rows: (readonly string[] | undefined)[];

  constructor(name: string) {
    this.#parts = name.split('.');
    this.pieces = this.#parts.length;
    this.#rows = new Array(this.pieces);
  }

  row(from: number): readonly string[] {
    let row = this.#rows[from];
    if (row === undefined) {
      const keys: string[] = [];
      let key = this.#parts[from]!;
      keys.push(key);
      for (let j = from + 1; j < this.pieces; j++) keys.push((key += '.' + this.#parts[j]!));
      this.#rows[from] = row = keys;
    }
    return row;
  }
}

const MEMO = new Map<string, Compiled>();
const MEMO_MAX = 4096;

function compile(name: string): Compiled {
  let c = MEMO.get(name);
  if (c !== undefined) return c;
  c = new Compiled(name);
  // A config reload may bring new names; never let the memo grow without bound (a miss only costs a compile).
  if (MEMO.size >= MEMO_MAX) MEMO.clear();
  MEMO.set(name, c);
  return c;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Walks from `obj` with the name's pieces `from`…: calls `found` for each resolution until it returns false.
 * `trail` holds the keys taken so far (pushed and popped; copied only by a caller that keeps it).
 */
function walk(c: Compiled, obj: Record<string, unknown>, from: number, trail: string[], found: (value: unknown) => boolean): boolean {
  const row = c.row(from);
  for (let j = from; j < c.pieces; j++) {
    const key = row[j - from]!;
    if (!Object.hasOwn(obj, key)) continue;
    const value = obj[key];
    trail.push(key);
    const more = j === c.pieces - 1 ? found(value) : !isPlainObject(value) || walk(c, value, j + 1, trail, found);
    trail.pop();
    if (!more) return false;
  }
  return true;
}

/** The full lookup: the value and the keys that reach it, or why there is none. */
export function lookupClaim(claims: Claims, name: string): ClaimLookup {
  return resolve(claims, name, true);
}

/**
 * The value a name reaches in this token (the hot path: no allocation for a name without dots): the value,
 * `undefined` when it is absent, or AMBIGUOUS.
 */
export function claimValue(claims: Claims, name: string): ClaimValue {
  if (!name.includes('.')) return isPlainObject(claims) && Object.hasOwn(claims, name) ? claims[name] : undefined;
  const r = resolve(claims, name, false);
  return r.kind === 'found' ? r.value : r.kind === 'ambiguous' ? AMBIGUOUS : undefined;
}

const NO_KEYS: readonly string[] = Object.freeze([]);

function resolve(claims: Claims, name: string, withKeys: boolean): ClaimLookup {
  if (!isPlainObject(claims)) return { kind: 'missing' };
  let count = 0;
  let value: unknown;
  let keys = NO_KEYS;
  const trail: string[] = [];
  walk(compile(name), claims, 0, trail, (v) => {
    if (++count > 1) return false;
    value = v;
    if (withKeys) keys = [...trail];
    return true;
  });
  if (count > 1) return { kind: 'ambiguous' };
  return count === 0 ? { kind: 'missing' } : { kind: 'found', value, keys };
}

/**
 * The claims `names` reach in `source`, rebuilt along the keys that reached them (`realm_access.roles` copies
 * `{realm_access: {roles}}`, so the same path reads the copy). Names that are absent or ambiguous are left out.
 * A name under one already copied whole is already there; one above a rebuilt branch replaces it with its whole
 * value. Keys are defined as own data properties (a `__proto__` key stays a key). `source` is never modified.
 */
export function copyClaims(source: Claims, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const built = new WeakSet<object>([out]);
  for (const name of names) {
    const r = lookupClaim(source, name);
    if (r.kind !== 'found' || r.value === undefined) continue;
    let node: Record<string, unknown> | undefined = out;
    for (const key of r.keys.slice(0, -1)) {
      const next: unknown = Object.hasOwn(node, key) ? node[key] : undefined;
      if (next === undefined) {
        const created: Record<string, unknown> = {};
        built.add(created);
        setOwn(node, key, created);
        node = created;
      } else if (typeof next === 'object' && next !== null && built.has(next)) {
        node = next as Record<string, unknown>;
      } else {
        node = undefined; // an ancestor was copied whole: it already holds this claim
        break;
      }
    }
    if (node !== undefined) setOwn(node, r.keys[r.keys.length - 1]!, r.value);
  }
  return out;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
