/** RawHeaderMap reads rawHeaders on demand and answers exactly what a Map of every lower-cased header would. */
import { describe, expect, it } from 'vitest';
import { HeaderNames, RawHeaderMap } from '../../src/transports/raw-header-map.ts';

/** The reference: every header, lower-cased name → every value in arrival order (the Map the listener used to build). */
function reference(raw: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    map.set(name, [...(map.get(name) ?? []), raw[i + 1]!]);
  }
  return map;
}

const RAW: readonly (readonly [string, readonly string[]])[] = [
  ['no headers', []],
  ['one lower-case header', ['authorization', 'Bearer a']],
  ['mixed case and repeats', ['Authorization', 'Bearer a', 'X-Forwarded-Uri', '/x', 'AUTHORIZATION', 'Bearer b', 'authorization', '']],
  ['names that differ only past a shared prefix', ['X-Forwarded-Method', 'GET', 'x-forwarded-proto', 'https', 'X-Forwarded-Host', 'h', 'x-forwarded-for', '1.2.3.4']],
  ['empty and whitespace values', ['DPoP', ' ', 'dpop', '', 'Cookie', 'a=1']],
];
const NAMES = ['authorization', 'x-forwarded-uri', 'x-forwarded-method', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-for', 'dpop', 'cookie', 'host', 'Authorization', 'x-forwarded', ''];

describe('RawHeaderMap', () => {
  it.each(RAW)('answers get and has as a Map of every header would (%s)', (_name, raw) => {
    const expected = reference(raw);
    const map = new RawHeaderMap(raw);
    for (const name of NAMES) {
      expect(map.get(name)).toEqual(expected.get(name));
      expect(map.has(name)).toBe(expected.has(name));
    }
  });

  it.each(RAW)('iterates, counts and answers after iteration as that Map (%s)', (_name, raw) => {
    const expected = reference(raw);
    const map = new RawHeaderMap(raw);
    expect(map.size).toBe(expected.size);
    expect([...map]).toEqual([...expected]);
    expect(new Map(map)).toEqual(expected);
    const seen: [string, readonly string[]][] = [];
    map.forEach((v, k) => seen.push([k, v]));
    expect(seen).toEqual([...expected.entries()]);
    for (const name of NAMES) expect(map.get(name)).toEqual(expected.get(name));
  });
});

describe('RawHeaderMap with the names it expects found in one pass', () => {
  /** Expected names of shared lengths and last letters (15: x-forwarded-uri / x-forwarded-for), and one not lower-case. */
  const EXPECTED = new HeaderNames(['x-forwarded-uri', 'x-forwarded-for', 'x-forwarded-method', 'authorization', 'dpop', 'Cookie', 'host', 'x-forwarded-uri']);
  const EXTRA: readonly (readonly [string, readonly string[]])[] = [
    ['a name that shares an expected one\'s length and last letter', ['accept-encoding', 'gzip', 'X-FORWARDED-FOR', '1.1.1.1', 'x-forwarded-fur', 'no']],
    ['an expected name sent three times, the last one empty', ['DPOP', 'a', 'dpop', 'b', 'Dpop', '']],
    ['names whose last letter folds to another symbol (^ and ~)', ['dpo^', 'x', 'dpo~', 'y']],
  ];

  it.each([...RAW, ...EXTRA])('answers get and has exactly as without them (%s)', (_name, raw) => {
    const expected = reference(raw);
    const indexed = new RawHeaderMap(raw, EXPECTED);
    for (const name of [...NAMES, 'x-forwarded-fur', 'accept-encoding', 'dpo^', 'dpo~']) {
      expect(indexed.get(name), name).toEqual(expected.get(name));
      expect(indexed.has(name), name).toBe(expected.has(name));
    }
    expect(new Map(indexed)).toEqual(expected);
  });

  it('agrees with the Map of every header over 5,000 generated header lists', () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const names = ['Authorization', 'authorization', 'X-Forwarded-Uri', 'x-forwarded-for', 'X-Forwarded-Fur', 'dpop', 'DPoP', 'cookie', 'Host', 'accept', 'x-forwarded-method'];
    for (let n = 0; n < 5_000; n++) {
      const raw: string[] = [];
      for (let i = next(8); i > 0; i--) raw.push(names[next(names.length)]!, `v${next(3)}`);
      const expected = reference(raw);
      const indexed = new RawHeaderMap(raw, EXPECTED);
      for (const name of names.map((x) => x.toLowerCase())) expect(indexed.get(name), JSON.stringify(raw)).toEqual(expected.get(name));
    }
  });
});
