/**
 * Decision logs from the real service: every deny reason a request can trigger gets exactly one line with the reason,
 * a human message, the token fingerprint and the caller's trace id, and no line ever holds a token, its payload or
 * its signature. Tracing is off here: the trace id comes from the request's own traceparent.
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { DecisionLog } from '../../src/telemetry/decision-log.ts';
import { tokenFingerprint } from '../../src/core/sources.ts';
import { instrumentAuthorizer } from '../../src/telemetry/instrument.ts';
import { bufferedLineWriter } from '../../src/log.ts';
import type { AuthRequest, Authorizer } from '../../src/core/types.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { request } from '../support/core.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';
import { lineSink, traceIds } from './support.ts';

const DOWN_ISSUER = 'https://down.test/';
const TOKENS = { headers: [{ name: 'authorization', prefix: 'Bearer ' }], cookies: ['access_token'], maxBytes: 1024 };
const runtime = { fetch: (u: string, i: Parameters<typeof fetch>[1]) => fetch(u, i), now: () => NOW_S * 1000 };

let jwks: JwksServer;
let down: JwksServer;
let running: Running;
let key: TestKey;
const log = lineSink();

function config(extra: Record<string, unknown> = {}) {
  return buildConfig(
    {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
      issuers: [
        { issuer: ISSUER, jwks_uri: jwks.url, audiences: [AUDIENCE], algorithms: ['ES256'], max_ttl: '1h', required_claims: ['email'] },
        { issuer: DOWN_ISSUER, jwks_uri: down.url, audiences: [AUDIENCE] },
      ],
      tokens: { max_bytes: 1024 },
      ...extra,
    },
    'test',
    process.cwd(),
  );
}

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  jwks = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
  down = await startJwksServer({ kind: 'status', status: 503 });
  running = await startPortcullis(config(), runtime, { telemetry: { log } });
});

afterAll(async () => {
  await running?.close();
  await Promise.all([jwks?.close(), down?.close()]);
});

const ask = (url: string, headers: Record<string, string>) =>
  fetch(`${url}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders?access_token=query-secret', 'x-forwarded-host': 'api.test', ...headers } });

describe('deny lines', () => {
  it('exist once per deny, for every reason, without token material', async () => {
    const email = { email: 'alice@example.test' };
    const other = await makeKey('ES256', 'k1');
    const eddsa = await makeKey('EdDSA', 'k1');
    const cases: [reason: string, headers: Record<string, string>, token?: string][] = [];
    const bearer = async (reason: string, token: string) => cases.push([reason, { authorization: `Bearer ${token}` }, token]);
    cases.push(['token_missing', {}]);
    await bearer('token_malformed', 'eyJhbGciOiJFUzI1NiJ9.bm90LWEtanNvbi1wYXlsb2Fk');
    const first = await signToken(key, { ...email, jti: 'a' });
    cases.push(['token_ambiguous', { authorization: `Bearer ${first}`, cookie: `access_token=${await signToken(key, { ...email, jti: 'b' })}` }]);
    await bearer('token_too_large', await signToken(key, { ...email, pad: 'x'.repeat(1200) }));
    await bearer('issuer_unknown', await signToken(key, { ...email, iss: 'https://unknown.test/' }));
    await bearer('algorithm_not_allowed', await signToken(eddsa, email));
    await bearer('key_unknown', await signToken(key, email, { header: { kid: 'nope' } }));
    await bearer('signature_invalid', await signToken(other, email));
    await bearer('token_expired', await signToken(key, { ...email, exp: NOW_S - 600 }));
    await bearer('token_not_yet_valid', await signToken(key, { ...email, nbf: NOW_S + 600 }));
    await bearer('lifetime_too_long', await signToken(key, { ...email, exp: NOW_S + 7200 }));
    await bearer('audience_mismatch', await signToken(key, { ...email, aud: 'someone-else' }));
    await bearer('claim_missing', await signToken(key));
    await bearer('claim_invalid', await signToken(key, { ...email, sub: 42 }));
    await bearer('keys_unavailable', await signToken(key, { ...email, iss: DOWN_ISSUER }));

    const offered: string[] = [first];
    for (const [reason, headers, token] of cases) {
      const caller = traceIds();
      const response = await ask(running.httpUrl, { ...headers, traceparent: caller.traceparent, 'x-forwarded-for': '198.51.100.4' });
      const body = (await response.json()) as { reason: string };
      expect(body.reason, `case ${reason}`).toBe(reason);
      if (token !== undefined) offered.push(token);

      const lines = log.records().filter((r) => r.trace_id === caller.traceId);
      expect(lines, `one line for ${reason}`).toHaveLength(1);
      const line = lines[0]!;
      expect(line).toMatchObject({
        level: reason === 'keys_unavailable' ? 'warn' : 'info',
        msg: 'deny',
        decision: 'deny',
        reason,
        status: response.status,
        transport: 'http',
        method: 'GET',
        host: 'api.test',
        path: '/orders',
        client_address: '198.51.100.4',
        trace_id: caller.traceId,
        span_id: caller.spanId,
      });
      expect(typeof line.message === 'string' && line.message.length > 0, `message for ${reason}`).toBe(true);
      expect(typeof line.duration_ms).toBe('number');
      if (token !== undefined) expect(line.token_fingerprint, `fingerprint for ${reason}`).toBe(tokenFingerprint(token));
      else expect(line).not.toHaveProperty('token_fingerprint');
    }

    const everything = log.lines.join('');
    expect(everything).not.toContain('query-secret');
    for (const token of offered) {
      const [header, payload, signature] = token.split('.') as [string, string, string | undefined];
      expect(everything).not.toContain(token);
      if (payload.length > 8) expect(everything).not.toContain(payload);
      if (signature !== undefined && signature.length > 8) expect(everything).not.toContain(signature);
      expect(everything).not.toContain(`${header}.${payload}`);
    }
  });

  it('show the expected audiences and the received value for an audience mismatch', async () => {
    const caller = traceIds();
    await ask(running.httpUrl, { authorization: `Bearer ${await signToken(key, { email: 'a@x', aud: ['web', 'mobile'] })}`, traceparent: caller.traceparent });
    const line = log.records().find((r) => r.trace_id === caller.traceId);
    expect(line?.message).toBe(`audience mismatch: expected one of ["${AUDIENCE}"], got ["web", "mobile"]`);
    expect(line?.issuer).toBe(ISSUER);
  });

  it('are not written for allows by default', async () => {
    const caller = traceIds();
    expect((await ask(running.httpUrl, { authorization: `Bearer ${await signToken(key, { email: 'a@x' })}`, traceparent: caller.traceparent })).status).toBe(200);
    expect(log.records().some((r) => r.trace_id === caller.traceId)).toBe(false);
  });
});

describe('log level and allow sampling', () => {
  const deny = { kind: 'deny', status: 401, reason: 'token_expired', message: 'm', headers: [], body: '', identity: [] } as const;
  const unavailable = { ...deny, status: 503, reason: 'keys_unavailable' } as const;
  const allow = { kind: 'allow', reason: 'token_valid', identity: [] } as const;
  const make = (level: 'debug' | 'info' | 'warn' | 'error', allowRate = 0, random = () => 0.5) =>
    new DecisionLog({ level, allowRate, recordSubject: false, tokens: TOKENS, out: lineSink(), random });

  it('logs denies at info (503 at warn), allows only at debug', () => {
    expect([make('info').levelFor(deny), make('info').levelFor(unavailable), make('info').levelFor(allow)]).toEqual(['info', 'warn', undefined]);
    expect([make('warn').levelFor(deny), make('warn').levelFor(unavailable)]).toEqual([undefined, 'warn']);
    expect(make('debug').levelFor(allow)).toBe('debug');
  });

  it('logs a single-use token allowed without its check (replay store failing, on_store_error: allow) at warn', () => {
    const unchecked = { ...allow, replay: 'store_error_allowed' } as const;
    expect([make('info').levelFor(unchecked), make('warn').levelFor(unchecked), make('error').levelFor(unchecked)]).toEqual(['warn', 'warn', undefined]);
    expect(make('info').levelFor({ ...allow, replay: 'fresh' })).toBeUndefined();
    const out = lineSink();
    new DecisionLog({ level: 'info', allowRate: 0, recordSubject: false, tokens: TOKENS, out }).write('warn', request(), unchecked, 0, undefined);
    expect(out.records()[0]).toMatchObject({ level: 'warn', msg: 'allow', replay: 'store_error_allowed' });
  });

  it('samples allows with log_allows, whatever the level', () => {
    expect(make('warn', 1).levelFor(allow)).toBe('info');
    expect(make('info', 0.6, () => 0.5).levelFor(allow)).toBe('info');
    expect(make('info', 0.4, () => 0.5).levelFor(allow)).toBeUndefined();
    expect(buildConfig({ issuers: [{ issuer: ISSUER, jwks_uri: 'https://idp.test/jwks', audiences: ['a'] }], telemetry: { log_allows: true } }, 't', '/').telemetry.logAllows).toBe(1);
  });

  it('logs the subject of an allow only with record_subject', async () => {
    const token = await signToken(key, { email: 'a@x', sub: 'alice' });
    for (const recordSubject of [false, true]) {
      const out = lineSink();
      const logger = new DecisionLog({ level: 'debug', allowRate: 0, recordSubject, tokens: TOKENS, out });
      logger.write('debug', request({ headers: { authorization: `Bearer ${token}` } }), { ...allow, claims: { sub: 'alice' }, issuer: ISSUER, kid: 'k1' }, 0.001, undefined);
      expect(out.records()[0]).toMatchObject({ msg: 'allow', reason: 'token_valid', kid: 'k1', token_fingerprint: tokenFingerprint(token) });
      expect('subject' in out.records()[0]!).toBe(recordSubject);
    }
  });
});

describe('client-controlled fields', () => {
  it('are bounded, and the path loses its query string and fragment', () => {
    const out = lineSink();
    const logger = new DecisionLog({ level: 'info', allowRate: 0, recordSubject: false, tokens: TOKENS, out });
    const deny = { kind: 'deny', status: 401, reason: 'token_missing', message: 'no token', headers: [], body: '', identity: [] } as const;
    logger.write('info', request({ host: 'h'.repeat(10_000), path: `/${'p'.repeat(2000)}?access_token=secret#frag` }), deny, 0, undefined);
    const line = out.records()[0]!;
    expect((line.host as string).length).toBe(257);
    expect((line.path as string).length).toBe(513);
    expect(out.lines[0]).not.toMatch(/secret|frag/);
  });
});

describe('the decorator', () => {
  it('logs an authorizer that throws as internal_error at error level and rethrows', async () => {
    const out = lineSink();
    const decisionLog = new DecisionLog({ level: 'info', allowRate: 0, recordSubject: false, tokens: TOKENS, out });
    const failing: Authorizer = { check: () => Promise.reject(new Error('boom with Bearer secret')) };
    const wrapped = instrumentAuthorizer(failing, { tracer: undefined, metrics: undefined, decisionLog, recordSubject: false });
    await expect(wrapped.check(request())).rejects.toThrow('boom');
    expect(out.records()).toMatchObject([{ level: 'error', reason: 'internal_error', status: 503 }]);
    expect(out.lines.join('')).not.toContain('secret');
  });

  it('names the route a decision reports', async () => {
    const out = lineSink();
    const decisionLog = new DecisionLog({ level: 'info', allowRate: 0, recordSubject: false, tokens: TOKENS, out });
    const routed: Authorizer = { check: async () => ({ kind: 'deny', status: 401, reason: 'token_missing', message: 'no token', headers: [], body: '', identity: [], rule: 'orders' }) as never };
    await instrumentAuthorizer(routed, { tracer: undefined, metrics: undefined, decisionLog, recordSubject: false }).check(request());
    expect(out.records()[0]).toMatchObject({ route: 'orders', reason: 'token_missing' });
  });

  it('returns the authorizer itself when nothing is configured', () => {
    const inner: Authorizer = { check: async (_r: AuthRequest) => ({ kind: 'allow', reason: 'token_valid', identity: [] }) };
    expect(instrumentAuthorizer(inner, { tracer: undefined, metrics: undefined, decisionLog: undefined, recordSubject: false })).toBe(inner);
  });
});

describe('bufferedLineWriter', () => {
  it('writes queued lines in one batch after the current turn, never during write()', async () => {
    const chunks: string[] = [];
    const stream = fakeStream((chunk) => {
      chunks.push(chunk);
      return true;
    });
    const writer = bufferedLineWriter(stream);
    writer.write('a\n');
    writer.write('b\n');
    expect(chunks).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toEqual(['a\nb\n']);
  });

  it('holds lines while the stream is full and drops (and counts) past its bound', async () => {
    const chunks: string[] = [];
    let full = true;
    const stream = fakeStream((chunk) => {
      chunks.push(chunk);
      return !full;
    });
    const writer = bufferedLineWriter(stream, 10);
    writer.write('1234\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toEqual(['1234\n']);
    writer.write('5678\n');
    writer.write('abcd\n');
    writer.write('overflow\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toEqual(['1234\n']);
    expect(writer.dropped).toBe(1);
    full = false;
    stream.emit('drain');
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toEqual(['1234\n', '5678\nabcd\n']);
    writer.write('last\n');
    await writer.flush();
    expect(chunks.at(-1)).toBe('last\n');
  });
});

function fakeStream(write: (chunk: string) => boolean): NodeJS.WritableStream & EventEmitter {
  const emitter = new EventEmitter() as NodeJS.WritableStream & EventEmitter;
  (emitter as unknown as { write: (chunk: string, cb?: () => void) => boolean }).write = (chunk, cb) => {
    const ok = write(chunk);
    cb?.();
    return ok;
  };
  return emitter;
}
