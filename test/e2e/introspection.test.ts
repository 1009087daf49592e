/**
 * Opaque access tokens end to end, all real: panva's oidc-provider with introspection enabled issues opaque tokens
 * and answers for them; the real Portcullis (startPortcullis) introspects them, discovering the endpoint, and is asked
 * by a client built from Envoy's upstream ext_authz protos (gRPC), directly on its forward-auth endpoint, and by
 * Debian's Caddy running deploy/caddy/Caddyfile. Introspection calls are counted at the provider's own socket.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OP_CLIENT_SECRET } from '../support/oidc-provider.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { startIntrospecting, type AuthMethod, type Introspecting } from '../support/introspection.ts';
import { useProxyStack } from '../support/proxy-stack.ts';
import { send, type RawResponse } from '../transports/http/fixtures.ts';

/** A CheckRequest as Envoy builds it for `GET api.test/orders/7` with this token. */
function checkRequest(token: string): object {
  const path = '/orders/7';
  const headers = { ':authority': 'api.test', ':method': 'GET', ':path': path, ':scheme': 'https', authorization: `Bearer ${token}` };
  return { attributes: { request: { http: { id: '1', method: 'GET', host: 'api.test', scheme: 'https', path, protocol: 'HTTP/1.1', headers } } } };
}

interface Answer {
  readonly status: number;
  readonly reason: string | undefined;
  readonly subject: string | undefined;
  readonly scope: string | undefined;
}

/** The same question through each way in: Envoy's gRPC Check, and the forward-auth endpoint as Caddy calls it. */
async function grpcAsk(client: EnvoyClient, token: string): Promise<Answer> {
  const r = await client.check(checkRequest(token));
  if (r.status.code === 0) {
    const set = Object.fromEntries((r.ok_response?.headers ?? []).map((h: any) => [h.header.key, h.header.value]));
    return { status: 200, reason: undefined, subject: set['x-auth-subject'], scope: set['x-auth-scope'] };
  }
  return { status: r.denied_response.status.code === 'ServiceUnavailable' ? 503 : r.denied_response.status.code === 'Unauthorized' ? 401 : -1, reason: JSON.parse(r.denied_response.body).reason, subject: undefined, scope: undefined };
}

function fromHttp(r: RawResponse): Answer {
  const ok = r.status === 200;
  return { status: r.status, reason: ok ? undefined : JSON.parse(r.body).reason, subject: ok ? r.headers['x-auth-subject']?.[0] : undefined, scope: ok ? r.headers['x-auth-scope']?.[0] : undefined };
}

const forwardAuth = (s: Introspecting, token: string) =>
  send(s.portcullis.httpUrl, { method: 'GET', path: '/auth', headers: [['authorization', `Bearer ${token}`], ['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/orders/7']] }).then(fromHttp);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` requests, `parallel` at a time. */
async function flood(count: number, parallel: number, ask: (i: number) => Promise<Answer>): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < count; i += parallel) out.push(...(await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, (_, k) => ask(i + k)))));
  return out;
}

describe('opaque tokens over gRPC ext_authz, introspected at a real oidc-provider', () => {
  let s: Introspecting;
  let client: EnvoyClient;
  beforeAll(async () => {
    s = await startIntrospecting({ introspection: { cache: { max_ttl: '60s', inactive_ttl: '30s' } } });
    client = connectEnvoyClient(s.portcullis.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await s?.close();
  });

  it('allows an active token, with identity headers from the introspection answer', async () => {
    const token = await s.provider.issueOpaque('alice', 'api');
    expect(await grpcAsk(client, token)).toEqual({ status: 200, reason: undefined, subject: 'alice', scope: 'api' });
  });

  it('makes one introspection call for a flood of 10,000 requests with one token', async () => {
    const token = await s.provider.issueOpaque('bob');
    const before = s.provider.introspections;
    const answers = await flood(10_000, 200, () => grpcAsk(client, token));
    expect(answers.every((a) => a.status === 200 && a.subject === 'bob')).toBe(true);
    expect(s.provider.introspections - before).toBe(1);
  }, 60_000);

  it('denies an unknown string token_inactive, and asks again for none of 1,000 junk tokens within inactive_ttl', async () => {
    const before = s.provider.introspections;
    const junk = Array.from({ length: 1000 }, (_, i) => `at_junk_${i}_${'x'.repeat(20)}`);
    const first = await flood(junk.length, 100, (i) => grpcAsk(client, junk[i]!));
    expect(new Set(first.map((a) => `${a.status} ${a.reason}`))).toEqual(new Set(['401 token_inactive']));
    const again = await flood(junk.length, 100, (i) => grpcAsk(client, junk[i]!));
    expect(again.every((a) => a.reason === 'token_inactive')).toBe(true);
    // One call per distinct token, never more: the second round is answered from the cache.
    expect(s.provider.introspections - before).toBe(1000);
  }, 60_000);

  it('with the IdP stopped: 503 introspection_unavailable for uncached tokens while cached ones keep working; recovers on the next request after a restart', async () => {
    const cached = await s.provider.issueOpaque('dave');
    const uncached = await s.provider.issueOpaque('erin');
    expect((await grpcAsk(client, cached)).status).toBe(200);
    await s.provider.stop();
    try {
      expect(await grpcAsk(client, uncached)).toMatchObject({ status: 503, reason: 'introspection_unavailable' });
      expect(await grpcAsk(client, cached)).toMatchObject({ status: 200, subject: 'dave' });
      // /readyz does not depend on the introspection endpoint.
      expect((await send(s.portcullis.httpUrl, { method: 'GET', path: '/readyz' })).status).toBe(200);
    } finally {
      await s.provider.start();
    }
    expect(await grpcAsk(client, uncached)).toMatchObject({ status: 200, subject: 'erin' });
  });

  it('counts calls by outcome, their latency and cache hits in /metrics', async () => {
    const text = (await send(s.portcullis.httpUrl, { method: 'GET', path: '/metrics' })).body;
    expect(text).toMatch(/portcullis_introspection_calls_total\{issuer="[^"]+",outcome="active"\} [1-9]/);
    expect(text).toMatch(/portcullis_introspection_calls_total\{issuer="[^"]+",outcome="inactive"\} [1-9]/);
    expect(text).toMatch(/portcullis_introspection_calls_total\{issuer="[^"]+",outcome="error"\} [1-9]/);
    expect(text).toMatch(/portcullis_introspection_duration_seconds_count\{issuer="[^"]+"\} [1-9]/);
    expect(text).toMatch(/portcullis_introspection_cache_hits_total [1-9]\d{3}/);
  });
});

describe('a token revoked at the provider, over gRPC ext_authz', () => {
  let s: Introspecting;
  let client: EnvoyClient;
  beforeAll(async () => {
    s = await startIntrospecting({ introspection: { cache: { max_ttl: '1s' } } });
    client = connectEnvoyClient(s.portcullis.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await s?.close();
  });

  it('is denied within max_ttl', async () => {
    const token = await s.provider.issueOpaque('carol');
    expect((await grpcAsk(client, token)).status).toBe(200);
    await s.provider.revoke(token);
    await sleep(1100); // max_ttl 1s: the cached answer ends, the next request asks again
    expect(await grpcAsk(client, token)).toMatchObject({ status: 401, reason: 'token_inactive' });
  });

});

describe('opaque tokens on the forward-auth endpoint', () => {
  let s: Introspecting;
  beforeAll(async () => {
    s = await startIntrospecting();
  });
  afterAll(() => s?.close());

  it('allows an active token with identity headers, denies an unknown one, and a flood costs one call', async () => {
    const token = await s.provider.issueOpaque('alice', 'api');
    const before = s.provider.introspections;
    const answers = await flood(1000, 50, () => forwardAuth(s, token));
    expect(answers.every((a) => a.status === 200 && a.subject === 'alice' && a.scope === 'api')).toBe(true);
    expect(s.provider.introspections - before).toBe(1);
    expect(await forwardAuth(s, 'not-a-token-anyone-issued')).toMatchObject({ status: 401, reason: 'token_inactive' });
  });
});

describe.each<AuthMethod>(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'signed_answers'])('client authentication %s', (auth) => {
  let s: Introspecting;
  beforeAll(async () => {
    s = await startIntrospecting({ auth });
  });
  afterAll(() => s?.close());

  it('is accepted by the provider: an active token is allowed after one call', async () => {
    const token = await s.provider.issueOpaque('alice');
    expect(await forwardAuth(s, token)).toMatchObject({ status: 200, subject: 'alice' });
    expect(s.events.filter((e) => e.type === 'introspection_call')).toMatchObject([{ outcome: 'active' }]);
  });
});

describe('client credentials from files', () => {
  let s: Introspecting;
  beforeAll(async () => {
    s = await startIntrospecting();
  });
  afterAll(() => s?.close());

  it('are read again on reload: a secret the IdP refuses gives 503 and one log event, the fixed file and a reload recover', async () => {
    writeFileSync(join(s.dir, 'secret'), 'a-rotated-secret-the-idp-does-not-know\n');
    await s.portcullis.reload(s.reloaded());
    const token = await s.provider.issueOpaque('alice');
    expect(await forwardAuth(s, token)).toMatchObject({ status: 503, reason: 'introspection_unavailable' });
    expect(await forwardAuth(s, token)).toMatchObject({ status: 503, reason: 'introspection_unavailable' });
    const refused = s.events.filter((e) => e.type === 'introspection_client_refused');
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused)).toMatch(/invalid_client/);
    expect(JSON.stringify(refused)).not.toContain('a-rotated-secret');
    writeFileSync(join(s.dir, 'secret'), `${OP_CLIENT_SECRET}\n`);
    await s.portcullis.reload(s.reloaded());
    expect(await forwardAuth(s, token)).toMatchObject({ status: 200, subject: 'alice' });
  });
});

describe('opaque tokens through the real Caddy (deploy/caddy/Caddyfile)', () => {
  const stack = useProxyStack('caddy', async () => {
    const auth = await startIntrospecting({ introspection: { cache: { max_ttl: '1s' } } });
    return { auth, address: auth.portcullis.httpAddress };
  });

  it('lets an active token through with X-Auth-Subject from the answer, one call for many requests', async () => {
    const token = await stack.auth.provider.issueOpaque('alice');
    const before = stack.auth.provider.introspections;
    const answers = await Promise.all(Array.from({ length: 200 }, () => stack.client('GET', '/orders/7', [['Authorization', `Bearer ${token}`]])));
    expect(answers.map((r) => r.status)).toEqual(Array(200).fill(200));
    expect(stack.reached().every((r) => r.headers['x-auth-subject']?.[0] === 'alice')).toBe(true);
    expect(stack.auth.provider.introspections - before).toBe(1);
  });

  it('stops an unknown token and, within max_ttl, a revoked one; 503 while the IdP is down', async () => {
    const unknown = await stack.client('GET', '/orders/7', [['Authorization', 'Bearer at_unknown_0123456789']]);
    expect([unknown.status, JSON.parse(unknown.body).reason]).toEqual([401, 'token_inactive']);
    const token = await stack.auth.provider.issueOpaque('bob');
    expect((await stack.client('GET', '/orders/7', [['Authorization', `Bearer ${token}`]])).status).toBe(200);
    await stack.auth.provider.revoke(token);
    await sleep(1100);
    const revoked = await stack.client('GET', '/orders/7', [['Authorization', `Bearer ${token}`]]);
    expect([revoked.status, JSON.parse(revoked.body).reason]).toEqual([401, 'token_inactive']);
    const fresh = await stack.auth.provider.issueOpaque('carol');
    await stack.auth.provider.stop();
    try {
      const down = await stack.client('GET', '/orders/7', [['Authorization', `Bearer ${fresh}`]]);
      expect([down.status, JSON.parse(down.body).reason]).toEqual([503, 'introspection_unavailable']);
    } finally {
      await stack.auth.provider.start();
    }
    expect((await stack.client('GET', '/orders/7', [['Authorization', `Bearer ${fresh}`]])).status).toBe(200);
    expect(stack.reached().map((r) => r.headers['x-auth-subject']?.[0])).toEqual(['bob', 'carol']);
  });
});
