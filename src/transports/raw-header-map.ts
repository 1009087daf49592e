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
  for (let i = 0; i < raw.length; i++) {
    let c = raw.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Lower-cased name → every value, in arrival order, unmerged: a read-only Map over `rawHeaders`. A request reads a
 * few names (the header family, the token's header, a DPoP proof...), so `get` and `has` walk the raw list, which
 * copies nothing; the whole Map is built on first need of anything else (iteration, size), once.
 */
export class RawHeaderMap implements HeaderMap {
  readonly #raw: readonly string[];
  #map: Map<string, string[]> | undefined;

  constructor(raw: readonly string[]) {
    this.#raw = raw;
  }

  get(name: string): readonly string[] | undefined {
    if (this.#map !== undefined) return this.#map.get(name);
    const raw = this.#raw;
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

