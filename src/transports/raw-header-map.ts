/**
 * Request headers as a flat list of name, value pairs (node:http's rawHeaders; a CheckRequest's header map as the gRPC
 * transport decodes it), read as the core's HeaderMap without copying.
 */
import type { HeaderMap } from '../core/types.ts';

/**
 * True when the raw header name `raw` is `lower` (a lower-case name) without regard to ASCII case. Header names are
 * RFC 9110 tokens (node's parser refuses anything else; the gRPC transport lower-cases names as it reads them), so folding
 * A-Z is the whole of case-insensitivity.
 */
function sameName(raw: string, lower: string): boolean {
  if (raw.length !== lower.length) return false;
  for (let i = 0; i < raw.length; i++) if (lowerCodeAt(raw, i) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The char code at `i` with A-Z folded to a-z (the only folding header names need: see sameName). */
function lowerCodeAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/**
 * The few header names a listener reads on every request (its header family, the token's header, a DPoP proof...),
 * compiled once per config, so that one pass over a request's raw list finds all of them (`RawHeaderMap` with an
 * index): each raw name is compared only with the expected names of its length.
 */
export class HeaderNames {
  readonly #ids: ReadonlyMap<string, number>;
  /** By name length: the expected names of that length, and their ids at the same positions. */
  readonly #names: readonly (readonly string[] | undefined)[];
  readonly #idsOf: readonly (readonly number[] | undefined)[];
  /** One slot per name, all NONE: copied for each request (a packed array of small integers copies fast). */
  readonly #empty: readonly number[];

  constructor(names: Iterable<string>) {
    const ids = new Map<string, number>();
    for (const name of names) if (!ids.has(name.toLowerCase())) ids.set(name.toLowerCase(), ids.size);
    const byLength: string[][] = [];
    const idsOf: number[][] = [];
    for (const [name, id] of ids) {
      (byLength[name.length] ??= []).push(name);
      (idsOf[name.length] ??= []).push(id);
    }
    this.#ids = ids;
    this.#names = byLength;
    this.#idsOf = idsOf;
    this.#empty = new Array<number>(ids.size).fill(NONE);
  }

  /** The id of an expected (lower-case) name, or undefined. */
  idOf(name: string): number | undefined {
    return this.#ids.get(name);
  }

  /**
   * Where each expected name is in `raw`: per id, NONE, the index of its one value, or REPEATED. One pass; a name
   * whose length no expected name has costs one array read, and one whose last letter differs one more.
   */
  find(raw: readonly string[]): number[] {
    const found = this.#empty.slice();
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      const candidates = this.#names[name.length];
      if (candidates === undefined) continue;
      const last = lowerCodeAt(name, name.length - 1);
      for (let c = 0; c < candidates.length; c++) {
        const expected = candidates[c]!;
        // The last letter, then an exact match (names usually arrive lower-case), then the case-folding comparison.
        if (last !== expected.charCodeAt(expected.length - 1)) continue;
        if (name !== expected && !sameName(name, expected)) continue;
        const id = this.#idsOf[name.length]![c]!;
        found[id] = found[id] === NONE ? i + 1 : REPEATED;
        break;
      }
    }
    return found;
  }
}

/** In `HeaderNames.find`'s answer: the name is absent, or sent more than once (read by walking the list). */
const NONE = -1;
const REPEATED = -2;

/**
 * Lower-cased name → every value, in arrival order, unmerged: a read-only Map over `rawHeaders`. A request reads a
 * few names (the header family, the token's header, a DPoP proof...), so `get` and `has` walk the raw list, which
 * copies nothing; the whole Map is built on first need of anything else (iteration, size), once. With `names`, the
 * names it expects are found in one pass first, and reading one of them walks nothing.
 */
export class RawHeaderMap implements HeaderMap {
  readonly #raw: readonly string[];
  #map: Map<string, string[]> | undefined;
  readonly #names: HeaderNames | undefined;
  readonly #found: readonly number[] | undefined;

  constructor(raw: readonly string[], names?: HeaderNames) {
    this.#raw = raw;
    this.#names = names;
    this.#found = names?.find(raw);
  }

  get(name: string): readonly string[] | undefined {
    if (this.#map !== undefined) return this.#map.get(name);
    const raw = this.#raw;
    const id = this.#names?.idOf(name);
    if (id !== undefined) {
      const at = this.#found![id]!;
      if (at === NONE) return undefined;
      if (at !== REPEATED) return [raw[at]!];
    }
    let values: string[] | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!sameName(raw[i]!, name)) continue;
      if (values === undefined) values = [raw[i + 1]!];
      else values.push(raw[i + 1]!);
    }
    return values;
  }

  has(name: string): boolean {
    if (this.#map !== undefined) return this.#map.has(name);
    const id = this.#names?.idOf(name);
    if (id !== undefined) return this.#found![id] !== NONE;
    const raw = this.#raw;
    for (let i = 0; i + 1 < raw.length; i += 2) if (sameName(raw[i]!, name)) return true;
    return false;
  }

  #all(): Map<string, string[]> {
    if (this.#map !== undefined) return this.#map;
    const raw = this.#raw;
    const map = new Map<string, string[]>();
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const values = map.get(name);
      if (values === undefined) map.set(name, [raw[i + 1]!]);
      else values.push(raw[i + 1]!);
    }
    return (this.#map = map);
  }

  get size(): number {
    return this.#all().size;
  }
  forEach(fn: (value: readonly string[], key: string, map: ReadonlyMap<string, readonly string[]>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#all()) fn.call(thisArg, value, key, this);
  }
  entries(): MapIterator<[string, readonly string[]]> {
    return this.#all().entries();
  }
  keys(): MapIterator<string> {
    return this.#all().keys();
  }
  values(): MapIterator<readonly string[]> {
    return this.#all().values();
  }
  [Symbol.iterator](): MapIterator<[string, readonly string[]]> {
    return this.#all().entries();
  }
}

