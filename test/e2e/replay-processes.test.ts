/**
 * `node src/main.ts`, as users run it, twice against one real redis-server: a token used on one Portcullis process
 * (itself two workers) is refused by the other. And the start-time rules for the memory store: refused with several
 * workers (exit 2, key path named), a loud warning with one (replicas cannot be seen from inside).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../support/ports.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

const MAIN = join(import.meta.dirname, '../../src/main.ts');
const children: ChildProcess[] = [];
let redis: TestRedis;
let key: TestKey;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  key = await makeKey('ES256', 'k1');
  dir = mkdtempSync(join(tmpdir(), 'portcullis-replay-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(async () => {
  await redis?.close();
});

function config(name: string, lines: string): string {
  const path = join(dir, name);
  writeFileSync(path, `issuers:\n  - issuer: "https://idp.test/"\n    jwks_file: jwks.json\n    audiences: [api.test]\n    replay: true\n${lines}`);
  return path;
}

/** Starts main.ts; resolves with its HTTP URL and output once it logged "portcullis started". */
async function start(configPath: string): Promise<{ url: string; output: () => string }> {
  const [g, h] = await freePorts(2);
  const child = spawn(process.execPath, [MAIN, '--config', configPath, '--listen-grpc', `127.0.0.1:${g}`, '--listen-http', `127.0.0.1:${h}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORTCULLIS_CONFIG: '', OTEL_SDK_DISABLED: 'true' },
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60s:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      if (out.includes('"portcullis started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  return { url: `http://127.0.0.1:${h}`, output: () => out };
}

async function readyInARow(url: string, times: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let streak = 0; streak < times; ) {
    if (Date.now() > deadline) throw new Error(`${url} never became ready`);
    streak = (await fetch(`${url}/readyz`)).status === 200 ? streak + 1 : 0;
    if (streak === 0) await new Promise((r) => setTimeout(r, 50));
  }
}

async function token(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(key, { aud: 'api.test', iat: now - 5, exp: now + 300, ...claims });
}

async function use(url: string, t: string): Promise<{ status: number; reason?: string }> {
  const res = await fetch(`${url}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', authorization: `Bearer ${t}` } });
  const text = await res.text();
  return { status: res.status, ...(text ? { reason: (JSON.parse(text) as { reason?: string }).reason } : {}) };
}

describe('replay store redis across processes', () => {
  it('refuses on one process a token used on another (one of them running two workers)', async () => {
    const shared = `replay:\n  store: redis\n  redis: { url: "${redis.url}" }\n`;
    const [a, b] = await Promise.all([start(config('a.yaml', `workers: 2\n${shared}`)), start(config('b.yaml', `workers: 1\n${shared}`))]);
    // Ready means the Redis connection is up too (on_store_error deny); with two workers, ask until both said so.
    for (const p of [a, b]) await readyInARow(p.url, 10);
    const t = await token({ jti: 'processes-1' });
    expect(await use(a.url, t)).toEqual({ status: 200 });
    expect(await use(b.url, t)).toEqual({ status: 401, reason: 'token_replayed' });
    // Whichever worker of the two-worker process answers, it is refused there too.
    for (let i = 0; i < 4; i++) expect(await use(a.url, t)).toEqual({ status: 401, reason: 'token_replayed' });
    expect(await use(b.url, await token({}))).toEqual({ status: 401, reason: 'jti_missing' });
  }, 150_000);
});

describe('replay store memory', () => {
  it('works in one process, with a loud warning at start that it covers this one process only', async () => {
    const p = await start(config('m.yaml', 'workers: 1\n'));
    expect(p.output()).toMatch(/"level":"warn","msg":"replay.store is memory: single-use tokens are only single-use within this one process/);
    const t = await token({ jti: 'memory-1' });
    expect(await use(p.url, t)).toEqual({ status: 200 });
    expect(await use(p.url, t)).toEqual({ status: 401, reason: 'token_replayed' });
  }, 90_000);

  it('refuses to start with several workers, naming replay.store (exit 2)', () => {
    const r = spawnSync(process.execPath, [MAIN, '--config', config('w.yaml', 'workers: 2\n')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('replay.store: memory keeps consumed jti values inside one process, but 2 workers run');
  }, 90_000);
});
