/** Reading a key directory: what is refused, named by file, and that no refusal ever shows key material. */
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readKeyDir } from '../../../src/core/sign/key-dir.ts';
import { parseKeyFile } from '../../../src/core/sign/keyfile.ts';
import { newKeyFile } from '../../../src/core/sign/generated.ts';
import { keyDir, type KeyDir } from '../../support/signing.ts';

let dir: KeyDir;
afterEach(() => dir?.cleanup());

function problemsOf(result: ReturnType<typeof readKeyDir>): readonly string[] {
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.problems;
}

describe('readKeyDir', () => {
  it('reads every *.json key and skips dot-names (Secret ..data links, temp files) and other names', () => {
    dir = keyDir();
    const a = dir.add();
    const b = dir.add({ alg: 'EdDSA' });
    writeFileSync(join(dir.path, '.tmp.json'), 'garbage', { mode: 0o600 });
    writeFileSync(join(dir.path, 'README'), 'not a key', { mode: 0o644 });
    mkdirSync(join(dir.path, '..data'));
    const result = readKeyDir(dir.path);
    expect(result.ok && result.keys.map((k) => k.kid).sort()).toEqual([a, b].sort());
  });

  it('follows symlinks as a mounted Secret has them, and checks the mode of the real file', () => {
    dir = keyDir();
    const kid = dir.add();
    mkdirSync(join(dir.path, '..data'));
    const real = join(dir.path, '..data', 'k.json');
    writeFileSync(real, readFileSync(join(dir.path, `${kid}.json`)), { mode: 0o644 });
    dir.remove(kid);
    symlinkSync(real, join(dir.path, 'k.json'));
    expect(problemsOf(readKeyDir(dir.path))[0]).toMatch(/k\.json: permissions 0644 let group or others read a private key/);
    chmodSync(real, 0o400);
    expect(readKeyDir(dir.path).ok).toBe(true);
  });

  it.each([
    ['group-readable', 0o640],
    ['world-readable', 0o604],
    ['group-writable', 0o620],
  ])('refuses a %s key file, naming it', (_, mode) => {
    dir = keyDir();
    const kid = dir.add({ mode });
    expect(problemsOf(readKeyDir(dir.path))).toEqual([expect.stringContaining(`${kid}.json: permissions`)]);
  });

  it.each([
    ['group-readable (kubelet adds it with fsGroup)', 0o640, true],
    ['group-readable, read-only', 0o440, true],
    ['group-writable', 0o660, false],
    ['world-readable', 0o644, false],
  ])('with allowGroupRead, accepts or refuses a %s file', (_, mode, accepted) => {
    dir = keyDir();
    dir.add({ mode });
    const result = readKeyDir(dir.path, { allowGroupRead: true });
    expect(result.ok, JSON.stringify(result)).toBe(accepted);
  });

  const corrupt: readonly [string, string][] = [
    ['not JSON', '{"kty":'],
    ['a list', '[]'],
    ['no kid', JSON.stringify({ ...newKeyFile('ES256', 0, undefined), kid: undefined })],
    ['an unknown alg', JSON.stringify({ ...newKeyFile('ES256', 0, undefined), alg: 'HS256' })],
    ['no activate_at', JSON.stringify({ ...newKeyFile('ES256', 0, undefined), activate_at: undefined })],
    ['retire_at before activate_at', JSON.stringify(newKeyFile('ES256', 10_000_000, 5_000_000))],
    ['a public key only', JSON.stringify({ ...newKeyFile('ES256', 0, undefined), d: undefined })],
    ['the wrong key type for its alg', JSON.stringify({ ...newKeyFile('EdDSA', 0, undefined), alg: 'ES256' })],
    ['broken key members', JSON.stringify({ ...newKeyFile('ES256', 0, undefined), x: 'AAAA' })],
  ];
  it.each(corrupt)('stops on a file with %s, naming the file', (_, text) => {
    dir = keyDir();
    dir.add();
    writeFileSync(join(dir.path, 'bad.json'), text, { mode: 0o600 });
    const problems = problemsOf(readKeyDir(dir.path));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(join(dir.path, 'bad.json'));
  });

  it('never puts key material in a problem', () => {
    dir = keyDir();
    const file = newKeyFile('ES256', 0, undefined);
    const broken = { ...file, alg: 'EdDSA' };
    writeFileSync(join(dir.path, 'bad.json'), JSON.stringify(broken), { mode: 0o600 });
    const [problem] = problemsOf(readKeyDir(dir.path));
    for (const member of ['d', 'x', 'y'] as const) expect(problem).not.toContain(file[member] as string);
    const parsed = parseKeyFile(JSON.stringify({ ...file, x: 'AAAA' }));
    expect(parsed.ok).toBe(false);
    expect(JSON.stringify(parsed)).not.toContain(file.d as string);
  });

  it('refuses two files with the same kid, an empty directory and a missing one', () => {
    dir = keyDir();
    const kid = dir.add();
    writeFileSync(join(dir.path, 'copy.json'), readFileSync(join(dir.path, `${kid}.json`)), { mode: 0o600 });
    expect(problemsOf(readKeyDir(dir.path))[0]).toMatch(/is also the kid of/);
    const empty = keyDir();
    expect(problemsOf(readKeyDir(empty.path))[0]).toMatch(/no key files/);
    expect(problemsOf(readKeyDir(join(empty.path, 'missing')))[0]).toMatch(/cannot read the directory .*ENOENT/);
    empty.cleanup();
  });

  it('refuses RSA keys under 2048 bits', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const parsed = parseKeyFile(JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'small', alg: 'RS256', activate_at: 0 }));
    expect(parsed).toEqual({ ok: false, problem: 'RS256 needs an RSA key of at least 2048 bits' });
  });
});
