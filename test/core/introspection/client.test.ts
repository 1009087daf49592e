/**
 * The introspection client against a real HTTP server on a loopback port whose answers the test scripts
 * (test/support/jwks-server.ts): every way an endpoint can fail is `unavailable` (the caller denies 503, never allows),
 * an RFC 9701 signed answer counts only when the issuer's keys verify it, and refused client credentials are
 * reported at most once per interval with the IdP's error and never our secret.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.ts';
import { Introspector, MAX_ANSWER_BYTES, REFUSAL_LOG_INTERVAL_MS, type IntrospectionEvent, type IntrospectorOptions } from '../../../src/core/introspection/client.ts';
import { KeySource } from '../../../src/core/keys/source.ts';
import { inlineLoader } from '../../../src/core/keys/loaders.ts';
import { insecureUrlProblem } from '../../../src/config/schema.ts';
import { startJwksServer, type Behaviour, type JwksServer } from '../../support/jwks-server.ts';
import { forge, ISSUER, jwksOf, makeKey, NOW_S, type TestKey } from '../../support/tokens.ts';

const SECRET = 'the-client-secret-never-shown';
let server: JwksServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup(answer: Behaviour, key?: TestKey) {
  server = await startJwksServer(answer);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-introspection-client-'));
  writeFileSync(join(dir, 'secret'), SECRET);
  const config = buildConfig({
    listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' },
    issuers: [{
      issuer: ISSUER,
      jwks: jwksOf(key ?? (await makeKey('ES256', 'k1'))),
      audiences: ['api.test'],
      introspection: { endpoint: server.url, client_id: 'portcullis', client_secret_file: 'secret', opaque_tokens: true, timeout: '300ms' },
    }],
  }, 'test.yaml', dir);
  const issuer = config.issuers[0]! as IntrospectorOptions['issuer'];
  const keys = new KeySource({ issuer: ISSUER, location: 'inline', load: inlineLoader(issuer.jwks), now: () => NOW_S * 1000, refreshIntervalMs: 300_000, minRefreshMs: 30_000, cooldownMs: 30_000, maxStaleMs: Infinity, static: true });
  await keys.start();
  const clock = { t: NOW_S * 1000 };
  const events: IntrospectionEvent[] = [];
  const introspector = new Introspector({
    issuer, keys, fetch: (u, i) => fetch(u, i), now: () => clock.t,
    checkUrl: (u) => insecureUrlProblem(u, false),
    onEvent: (e) => events.push(e),
  });
  return { introspector, events, clock, server };
}

const json = (body: unknown): Behaviour => ({ kind: 'raw', body: JSON.stringify(body), contentType: 'application/json; charset=utf-8' });

describe('Introspector', () => {
  it('reads an active answer as claims, and sends a form POST with the token and its type hint', async () => {
    const { introspector, events } = await setup(json({ active: true, sub: 'alice', scope: 'api' }));
    expect(await introspector.introspect('opaque-1')).toMatchObject({ kind: 'active', claims: { active: true, sub: 'alice', scope: 'api' } });
    expect(events).toMatchObject([{ type: 'introspection_call', outcome: 'active' }]);
  });

  it('reads active: false as inactive', async () => {
    const { introspector } = await setup(json({ active: false }));
    expect(await introspector.introspect('opaque-1')).toEqual({ kind: 'inactive' });
  });

  it.each<[string, Behaviour, RegExp]>([
    ['a 5xx', { kind: 'status', status: 503, body: 'down' }, /HTTP 503/],
    ['an HTML page', { kind: 'raw', body: '<html>login</html>', contentType: 'text/html' }, /content-type "text\/html", not application\/json/],
    ['JSON that is not an object', json([true]), /not a JSON object/],
    ['an answer without a boolean active', json({ active: 'true', sub: 'alice' }), /no boolean "active"/],
    ['an answer over the size limit', json({ active: true, pad: 'x'.repeat(MAX_ANSWER_BYTES) }), /exceeds 65536 bytes/],
    ['no answer within the timeout', { kind: 'hang' }, /no answer within 300ms/],
    ['a signed answer with no valid signature', { kind: 'raw', body: 'a.b.c', contentType: 'application/token-introspection+jwt' }, /signed answer/],
  ])('is unavailable on %s', async (_name, behaviour, message) => {
    const { introspector, events } = await setup(behaviour);
    const answer = await introspector.introspect('opaque-1');
    expect(answer.kind).toBe('unavailable');
    expect(answer.kind === 'unavailable' && answer.message).toMatch(message);
    expect(events).toMatchObject([{ type: 'introspection_call', outcome: 'error' }]);
  });

  it('accepts an RFC 9701 signed answer only when the issuer\'s key signed it for our client_id', async () => {
    const key = await makeKey('ES256', 'k1');
    const stranger = await makeKey('ES256', 'k1');
    const payload = { iss: ISSUER, aud: 'portcullis', iat: NOW_S, token_introspection: { active: true, sub: 'alice' } };
    const header = { alg: 'ES256', kid: 'k1', typ: 'token-introspection+jwt' };
    const signed = (by: TestKey, p: Record<string, unknown> = payload) => ({ kind: 'raw', body: forge(header, p, { key: by.privateKey, alg: 'ES256' }), contentType: 'application/token-introspection+jwt' }) as const;

    const ok = await setup(signed(key), key);
    expect(await ok.introspector.introspect('t')).toMatchObject({ kind: 'active', claims: { sub: 'alice' } });
    await server!.close();
    for (const [behaviour, message] of [
      [signed(stranger), /does not verify/],
      [signed(key, { ...payload, aud: 'someone-else' }), /not addressed to our client_id/],
      [signed(key, { ...payload, iss: 'https://evil.test/' }), /names another issuer/],
    ] as const) {
      const s = await setup(behaviour, key);
      const answer = await s.introspector.introspect('t');
      expect(answer.kind === 'unavailable' && answer.message).toMatch(message);
      await server!.close();
      server = undefined;
    }
  });

  it('reports refused client credentials once per interval, with the IdP\'s error and never the secret', async () => {
    const { introspector, events, clock } = await setup({ kind: 'status', status: 401, body: '{"error":"invalid_client","error_description":"client authentication failed"}', contentType: 'application/json' });
    for (let i = 0; i < 5; i++) expect((await introspector.introspect('t')).kind).toBe('unavailable');
    clock.t += REFUSAL_LOG_INTERVAL_MS;
    const last = await introspector.introspect('t');
    const refusals = events.filter((e) => e.type === 'introspection_client_refused');
    expect(refusals).toEqual([
      { type: 'introspection_client_refused', issuer: ISSUER, status: 401, error: 'HTTP 401: invalid_client (client authentication failed)' },
      { type: 'introspection_client_refused', issuer: ISSUER, status: 401, error: 'HTTP 401: invalid_client (client authentication failed)' },
    ]);
    expect(events.filter((e) => e.type === 'introspection_call').every((e) => e.type === 'introspection_call' && e.outcome === 'client_auth_refused')).toBe(true);
    expect(JSON.stringify([events, last])).not.toContain(SECRET);
    expect(JSON.stringify([events, last])).not.toContain(Buffer.from(`portcullis:${SECRET}`).toString('base64'));
  });
});
