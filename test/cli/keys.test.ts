/** `portcullis keys generate`: the next key, its lead, its file mode, pruning of expired keys, usage errors. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runKeys } from '../../src/cli/keys.ts';
import { readKeyDir } from '../../src/core/sign/key-dir.ts';
import { keyDir, type KeyDir } from '../support/signing.ts';

const NOW = 1_800_000_000_000;
const H = 3_600_000;
let dir: KeyDir;
afterEach(() => dir?.cleanup());

function run(args: string[], now = NOW) {
  let out = '';
  let err = '';
  const code = runKeys(args, { out: (t) => (out += t), err: (t) => (err += t), now: () => now });
  return { code, out, err, json: code === 0 ? JSON.parse(out) : undefined };
}

describe('portcullis keys generate', () => {
  it('creates a key file with mode 0600 that activates after the default 15 min lead, and prints no key material', () => {
    dir = keyDir();
    const r = run(['generate', '--dir', dir.path]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ alg: 'ES256', activate_at: new Date(NOW + 15 * 60_000).toISOString(), pruned: [] });
    const file = join(dir.path, `${r.json.created}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(r.out).not.toContain(JSON.parse(readFileSync(file, 'utf8')).d);
    const loaded = readKeyDir(dir.path);
    expect(loaded.ok && loaded.keys.map((k) => [k.kid, k.activateAt])).toEqual([[r.json.created, NOW + 15 * 60_000]]);
  });

  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'])('--alg %s with --activate-in 0s makes a key that signs at once', (alg) => {
    dir = keyDir();
    const r = run(['generate', '--dir', dir.path, '--alg', alg, '--activate-in', '0s']);
    const loaded = readKeyDir(dir.path);
    expect(loaded.ok && loaded.keys.map((k) => [k.alg, k.activateAt])).toEqual([[alg, NOW]]);
    expect(r.json.created).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('removes keys superseded longer ago than --prune-after, and keeps the rest', () => {
    dir = keyDir();
    const old = dir.add({ activateAt: NOW - 48 * H }); // superseded by `previous` 36 h ago
    const previous = dir.add({ activateAt: NOW - 12 * H }); // superseded by `current` 1 h ago: tokens may live
    const current = dir.add({ activateAt: NOW - 1 * H });
    const retired = dir.add({ activateAt: NOW - 60 * H, retireAt: NOW - 30 * H });
    const r = run(['generate', '--dir', dir.path, '--prune-after', '2h']);
    expect(r.json.pruned.sort()).toEqual([old, retired].sort());
    expect(readdirSync(dir.path).sort()).toEqual([`${previous}.json`, `${current}.json`, `${r.json.created}.json`].sort());
  });

  it('changes nothing when the directory holds a bad key file', () => {
    dir = keyDir();
    dir.add({ mode: 0o644 });
    const r = run(['generate', '--dir', dir.path]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/permissions 0644/);
    expect(readdirSync(dir.path)).toHaveLength(1);
  });

  it.each([
    [['generate'], '--dir: required'],
    [['rotate', '--dir', '/tmp/x'], 'expected the command "generate"'],
    [['generate', '--dir', '/tmp/x', '--alg', 'HS256'], '--alg: must be one of'],
    [['generate', '--dir', '/tmp/x', '--activate-in', '10'], '--activate-in: must be a duration'],
    [['generate', '--bogus'], "Unknown option '--bogus'"],
  ])('%j is a usage error', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });
});
