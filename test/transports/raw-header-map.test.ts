/** RawHeaderMap reads rawHeaders on demand and answers exactly what a Map of every lower-cased header would. */
import { describe, expect, it } from 'vitest';
import { RawHeaderMap } from '../../src/transports/raw-header-map.ts';

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
