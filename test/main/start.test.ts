/**
 * The command users type: `node src/main.ts` (what `npm start` runs), as a real child process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePorts } from '../support/ports.ts';

const MAIN = join(import.meta.dirname, '../../src/main.ts');
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

function start(args: string[]): Promise<{ output: () => string }> {
  child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTCULLIS_CONFIG: '' } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 45s:\n${out}`)), 45_000);
    child!.stdout!.on('data', () => {
      if (out.includes('"portcullis started"')) {
        clearTimeout(timer);
        resolve({ output: () => out });
      }
    });
    child!.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
}

describe('npm start', { timeout: 60_000 }, () => {
  it('runs a labelled demo without a config whose printed token is allowed and whose excluded path needs none', async () => {
    const [g, h] = await freePorts(2);
    const { output } = await start(['--listen-grpc', `127.0.0.1:${g}`, '--listen-http', `127.0.0.1:${h}`]);
    expect(output()).toContain('PORTCULLIS DEMO MODE');
    const token = output().match(/export TOKEN=(\S+)/)![1]!;
    const ask = (uri: string, auth?: string) =>
      fetch(`http://127.0.0.1:${h}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri, ...(auth ? { authorization: `Bearer ${auth}` } : {}) } });
    const allowed = await ask('/hello', token);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('x-auth-subject')).toBe('demo-user');
    expect((await ask('/hello')).status).toBe(401);
    expect((await ask('/public/x')).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${h}/readyz`)).status).toBe(200);
    expect(output()).toMatch(/"ready":true/);
  });

  it('runs no demo issuer when a config is given', async () => {
    const [g, h] = await freePorts(2);
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-main-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k' }] }));
    writeFileSync(join(dir, 'c.yaml'), `issuers:\n  - issuer: "https://idp.test/"\n    jwks_file: jwks.json\n    audiences: [api]\n`);
    const { output } = await start(['--config', join(dir, 'c.yaml'), '--listen-grpc', `127.0.0.1:${g}`, '--listen-http', `127.0.0.1:${h}`]);
    expect(output()).not.toContain('DEMO');
    expect((await fetch(`http://127.0.0.1:${h}/.well-known/jwks.json`)).status).toBe(404);
  });

  it('refuses to start on a bad config, listing every problem by path, with exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-main-'));
    writeFileSync(join(dir, 'bad.yaml'), 'issuers:\n  - issuer: x\n    leeway: 60\nlisten: { grpc: nope }\n');
    const r = spawnSync(process.execPath, [MAIN, '--config', join(dir, 'bad.yaml')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('listen.grpc: "nope" must be host:port or unix:/path');
    expect(r.stderr).toContain('issuers[0].leeway: must be a duration');
    expect(r.stderr).toContain('issuers[0].audiences: required');
  });
});

describe('workers', { timeout: 60_000 }, () => {
  it('runs N worker processes sharing both listeners, and stops them all on SIGTERM', async () => {
    const [g, h] = await freePorts(2);
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-workers-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k' }] }));
    writeFileSync(join(dir, 'c.yaml'), `workers: 2\nshutdown: { drain: 100ms }\nissuers:\n  - issuer: "https://idp.test/"\n    jwks_file: jwks.json\n    audiences: [api]\n`);
    const { output } = await start(['--config', join(dir, 'c.yaml'), '--listen-grpc', `127.0.0.1:${g}`, '--listen-http', `127.0.0.1:${h}`]);
    expect(output()).toMatch(/"workers":2/);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`http://127.0.0.1:${h}/readyz`).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${h}/healthz`)).rejects.toThrow();
  });

  it('gives up with exit 1 when workers cannot start', async () => {
    const blocker = (await import('node:net')).createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as import('node:net').AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-workers-'));
    writeFileSync(join(dir, 'c.yaml'), `workers: 2\nissuers:\n  - issuer: "https://idp.test/"\n    jwks_uri: "https://idp.test/jwks"\n    audiences: [api]\n`);
    const r = spawnSync(process.execPath, [MAIN, '--config', join(dir, 'c.yaml'), '--listen-http', `127.0.0.1:${taken}`, '--listen-grpc', `127.0.0.1:${await freePort()}`], { encoding: 'utf8', timeout: 45_000 });
    blocker.close();
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('failed to start');
  });
});
