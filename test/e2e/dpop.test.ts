/**
 * DPoP end to end with real parts: oidc-provider (its dPoP feature, resource indicators with JWT access tokens)
 * issues DPoP-bound tokens, oauth4webapi as the client makes every proof, and the running service answers them over
 * each transport: Envoy ext_authz gRPC (CheckRequests from Envoy's own protos), forward auth, and Envoy HTTP mode.
 * Every refusal is tested on every transport (one table); a replay is also refused across two instances sharing a
 * real redis-server. Real Caddy and nginx in front: test/e2e/dpop-proxies.test.ts.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { startProvider, OP_AUDIENCE, type RunningProvider } from '../support/oidc-provider.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { dpopClient, exportedJwk, proofHeaders, type DpopClient } from '../support/dpop-client.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { forge } from '../support/tokens.ts';
import { send } from '../transports/http/fixtures.ts';

const URL_ = 'https://api.test/orders';
type Headers_ = { authorization: string; dpop?: string };
interface Answer { readonly status: number; readonly reason: string | undefined; readonly challenges: readonly string[] }

/** One authorization request for GET https://api.test/orders, over each transport. */
const TRANSPORTS: Record<string, (p: TestPortcullis, envoy: EnvoyClient, h: Headers_) => Promise<Answer>> = {
  grpc: async (_p, envoy, h) => {
    const r = await envoy.check({ attributes: { request: { http: { method: 'GET', host: 'api.test', scheme: 'https', path: '/orders?x=1', headers: { ...h } } } } });
    const headers = (r.denied_response?.headers ?? []) as { header: { key: string; value: string } }[];
    return {
      status: r.status.code === 0 ? 200 : r.denied_response.status.code === 'Unauthorized' ? 401 : Number(r.denied_response.status.code),
      reason: r.status.code === 0 ? undefined : r.status.message,
      challenges: headers.filter((x) => x.header.key === 'www-authenticate').map((x) => x.header.value),
    };
  },
  forward_auth: async (p, _envoy, h) =>
    answer(await send(p.httpUrl, { path: '/auth', headers: [['x-forwarded-method', 'GET'], ['x-forwarded-proto', 'https'], ['x-forwarded-host', 'api.test'], ['x-forwarded-uri', '/orders?x=1'], ...entries(h)] })),
  envoy_http: async (p, _envoy, h) =>
    answer(await send(p.httpUrl, { path: '/envoy/orders?x=1', headers: [['host', 'api.test'], ['x-forwarded-proto', 'https'], ...entries(h)] })),
};

const entries = (h: Headers_): [string, string][] => Object.entries(h).filter(([, v]) => v !== undefined) as [string, string][];
function answer(r: { status: number; headers: Readonly<Record<string, readonly string[]>>; body: string }): Answer {
  return { status: r.status, reason: r.body ? (JSON.parse(r.body) as { reason?: string }).reason : undefined, challenges: r.headers['www-authenticate'] ?? [] };
}

let op: RunningProvider;
let alice: DpopClient, mallory: DpopClient;
let token: string, otherToken: string;

function dpopConfig(issuer: string, extra: Record<string, unknown> = {}) {
  return { issuers: [{ issuer, discovery: true, audiences: [OP_AUDIENCE] }], workers: 1, dpop: {}, envoy_http: { path_prefix: '/envoy' }, ...extra };
}

beforeAll(async () => {
  op = await startProvider({ redirectUris: ['http://127.0.0.1/cb'], postLogoutRedirectUris: [], accessTokenTtlS: 600, dpop: true });
  [alice, mallory] = await Promise.all([dpopClient(op.issuer), dpopClient(op.issuer)]);
  [token, otherToken] = await Promise.all([alice.token(), alice.token()]);
});
afterAll(async () => {
  await op?.close();
});

/** A proof oauth4webapi makes for `method url` and `tok`, with a handle of `client` (clock skewed by `skewS`). */
const proof = async (opts: { client?: DpopClient; method?: string; url?: string; tok?: string; skewS?: number } = {}) =>
  (await proofHeaders((opts.client ?? alice).handle(opts.skewS), opts.tok ?? token, opts.method ?? 'GET', opts.url ?? URL_)).dpop;

/** Proofs attackers make: signed by alice's key (or not at all) but not as RFC 9449 allows. */
async function forged(kind: 'none' | 'hmac' | 'private'): Promise<string> {
  const { publicJwk, d } = await exportedJwk(alice.keyPair);
  const payload = { jti: crypto.randomUUID(), htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), ath: (await proofPayload(await proof())).ath };
  if (kind === 'none') return forge({ alg: 'none', typ: 'dpop+jwt', jwk: publicJwk }, payload, 'none');
  if (kind === 'hmac') return forge({ alg: 'HS256', typ: 'dpop+jwt', jwk: publicJwk }, payload, { hmacSecret: JSON.stringify(publicJwk) });
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { ...publicJwk, d } as never }).sign(alice.keyPair.privateKey as never);
}
const proofPayload = async (p: string) => JSON.parse(Buffer.from(p.split('.')[1]!, 'base64url').toString()) as Record<string, string>;

describe.each(Object.keys(TRANSPORTS))('DPoP over %s', (transport) => {
  const ask = TRANSPORTS[transport]!;
  let p: TestPortcullis;
  let envoy: EnvoyClient;

  beforeAll(async () => {
    p = await startTestPortcullis({ clock: 'real', config: dpopConfig(op.issuer) });
    envoy = connectEnvoyClient(p.grpcAddress);
  });
  afterAll(async () => {
    envoy?.close();
    await p?.close();
  });

  it('allows the DPoP-bound token with the proof oauth4webapi made for this request', async () => {
    const h = await proofHeaders(alice.handle(), token, 'GET', URL_);
    expect(h.authorization).toBe(`DPoP ${token}`);
    expect(await ask(p, envoy, h)).toMatchObject({ status: 200 });
    // The token is cached by now; the next request still needs (and checks) its own proof.
    expect(await ask(p, envoy, await proofHeaders(alice.handle(), token, 'GET', URL_))).toMatchObject({ status: 200 });
  });

  it.each<[string, () => Promise<Headers_>, string]>([
    ['a proof for another method', async () => ({ authorization: `DPoP ${token}`, dpop: await proof({ method: 'POST' }) }), 'dpop_proof_invalid'],
    ['a proof for another URI', async () => ({ authorization: `DPoP ${token}`, dpop: await proof({ url: 'https://api.test/admin' }) }), 'dpop_proof_invalid'],
    ['a proof for another token', async () => ({ authorization: `DPoP ${token}`, dpop: await proof({ tok: otherToken }) }), 'dpop_proof_invalid'],
    ['a proof from another key', async () => ({ authorization: `DPoP ${token}`, dpop: await proof({ client: mallory }) }), 'dpop_binding_mismatch'],
    ['an old proof', async () => ({ authorization: `DPoP ${token}`, dpop: await proof({ skewS: -120 }) }), 'dpop_proof_invalid'],
    ['a future proof', async () => ({ authorization: `DPoP ${token}`, dpop: await proof({ skewS: 60 }) }), 'dpop_proof_invalid'],
    ['a proof with alg none', async () => ({ authorization: `DPoP ${token}`, dpop: await forged('none') }), 'dpop_proof_invalid'],
    ['an HMAC proof', async () => ({ authorization: `DPoP ${token}`, dpop: await forged('hmac') }), 'dpop_proof_invalid'],
    ['a proof with a private key in its jwk', async () => ({ authorization: `DPoP ${token}`, dpop: await forged('private') }), 'dpop_proof_invalid'],
    ['the DPoP-bound token sent as Bearer', async () => ({ authorization: `Bearer ${token}` }), 'dpop_binding_mismatch'],
    ['no proof', async () => ({ authorization: `DPoP ${token}` }), 'dpop_proof_missing'],
  ])('refuses %s with 401, the DPoP challenge first', async (_name, headers, reason) => {
    const a = await ask(p, envoy, await headers());
    expect(a).toMatchObject({ status: 401, reason });
    expect(a.challenges[0]).toMatch(/^DPoP realm="portcullis", algs="ES256 ES384 EdDSA PS256 RS256", error="(invalid_dpop_proof|invalid_token)"/);
  });

  it('refuses a replayed proof', async () => {
    const h = await proofHeaders(alice.handle(), token, 'GET', URL_);
    expect((await ask(p, envoy, h)).status).toBe(200);
    expect(await ask(p, envoy, h)).toMatchObject({ status: 401, reason: 'dpop_proof_replayed' });
  });
});

describe('a proof replayed at another instance sharing Redis', () => {
  let redis: TestRedis;
  let a: TestPortcullis, b: TestPortcullis;
  let envoy: EnvoyClient;

  beforeAll(async () => {
    redis = await startRedis();
    const config = dpopConfig(op.issuer, { workers: 2, replay: { store: 'redis', redis: { url: redis.url, timeout: '5s' } } });
    [a, b] = await Promise.all([startTestPortcullis({ clock: 'real', config }), startTestPortcullis({ clock: 'real', config })]);
    envoy = connectEnvoyClient(b.grpcAddress);
  });
  afterAll(async () => {
    envoy?.close();
    await Promise.all([a?.close(), b?.close()]);
    await redis?.close();
  });

  it.each(['grpc', 'forward_auth', 'envoy_http'])('is refused over %s after instance A allowed it', async (transport) => {
    const h = await proofHeaders(alice.handle(), token, 'GET', URL_);
    expect((await TRANSPORTS.forward_auth!(a, envoy, h)).status).toBe(200);
    expect(await TRANSPORTS[transport]!(b, envoy, h)).toMatchObject({ status: 401, reason: 'dpop_proof_replayed' });
  });
});
