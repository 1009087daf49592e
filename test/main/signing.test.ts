/**
 * The signer through the commands users type: `portcullis keys generate`, then `node src/main.ts --config` signing
 * with that key; a bad key file stops the start naming it; a key directory that goes bad later is logged (file and
 * problem, never key material) while the last good key keeps signing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from '../support/ports.ts';
import { keyDir, type KeyDir } from '../support/signing.ts';

const MAIN = join(import.meta.dirname, '../../src/main.ts');
let child: ChildProcess | undefined;
let dir: KeyDir | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
  dir?.cleanup();
});

function configFile(keys: string, http: number, grpc: number): string {
  const file = join(keys, 'portcullis.yaml'); // not *.json: the key reader ignores it
  writeFileSync(file, [
    `listen: { grpc: "127.0.0.1:${grpc}", http: "127.0.0.1:${http}" }`,
    'workers: 1',
    `signer: { issuer: "http://127.0.0.1:${http}", keys: { dir: "${keys}" } }`,
  ].join('\n'));
  return file;
}

function waitFor(out: () => string, text: string, ms = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => (out().includes(text) ? resolve() : Date.now() - started > ms ? reject(new Error(`no "${text}" in:\n${out()}`)) : setTimeout(tick, 50));
    tick();
  });
}

describe('portcullis keys generate + a signing instance', () => {
  it('signs with the generated key, and logs a key directory that goes bad without leaking key material', async () => {
    dir = keyDir();
    const gen = spawnSync(process.execPath, [MAIN, 'keys', 'generate', '--dir', dir.path, '--activate-in', '0s'], { encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    const kid = JSON.parse(gen.stdout).created as string;
    const secret = JSON.parse(readFileSync(join(dir.path, readdirSync(dir.path)[0]!), 'utf8')).d as string;

    const [http, grpc] = await freePorts(2);
    child = spawn(process.execPath, [MAIN, '--config', configFile(dir.path, http, grpc)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTCULLIS_CONFIG: '' } });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out, '"portcullis started"');

    const signed = await fetch(`http://127.0.0.1:${http}/sign`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'payments.svc' } });
    expect(signed.status).toBe(200);
    const header = JSON.parse(Buffer.from(signed.headers.get('authorization')!.slice(7).split('.')[0]!, 'base64url').toString());
    expect(header.kid).toBe(kid);

    writeFileSync(join(dir.path, 'broken.json'), '{"kty":', { mode: 0o600 });
    await waitFor(() => out, 'signing keys load failed');
    expect(out).toContain('broken.json: not valid JSON');
    expect((await fetch(`http://127.0.0.1:${http}/sign`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'payments.svc' } })).status).toBe(200);
    const keys = await (await fetch(`http://127.0.0.1:${http}/keys`)).text();
    expect(keys).toContain('broken.json');
    for (const text of [out, keys]) expect(text).not.toContain(secret);
  }, 30_000);

  it('refuses to start on a loose key file, naming it, with exit code 2', async () => {
    dir = keyDir();
    const kid = dir.add({ mode: 0o644 });
    const r = spawnSync(process.execPath, [MAIN, '--config', configFile(dir.path, ...(await freePorts(2)))], { encoding: 'utf8', env: { ...process.env, PORTCULLIS_CONFIG: '' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`signer.keys.dir: ${join(dir.path, `${kid}.json`)}: permissions 0644`);
  });
});
