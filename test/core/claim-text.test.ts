/**
 * Claims are Unicode text, by one rule (core/text.ts parseJsonObject, applied where a JWS payload becomes claims): a
 * token whose payload holds a lone surrogate (`"N\ud800"`, legal JSON, valid UTF-8 as an escape) is 401
 * claim_invalid, so no claim that becomes a key or an identity can collide with another once it is UTF-8 (both
 * `N\ud800` and `N\udfff` encode as `N\ufffd`). Each place is tried: the jti's single-use record with the memory
 * store and with a real redis-server, sub and the other identity headers, the verified-token cache, x5c tokens
 * (test/core/keys/x5c.test.ts). Sign-in ID tokens never become claims: only their signature is checked
 * (src/core/signin/idp.ts, through parseCompactJws too), the session's identity is its access token's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompactSign } from 'jose';
import type { Core } from '../../src/app.ts';
import type { Decision } from '../../src/core/types.ts';
import { bearer, request, startCore, testConfig } from '../support/core.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { ISSUER, jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';

let key: TestKey;
let redis: TestRedis;
const cores: Core[] = [];

beforeAll(async () => {
  [key, redis] = await Promise.all([makeKey('ES256', 'k1'), startRedis()]);
});
afterAll(async () => {
  for (const c of cores) c.stop();
  await redis?.close();
});

async function core(replay: Record<string, unknown>): Promise<Core> {
  const c = await startCore(
    testConfig({
      workers: 1,
      replay,
      identity_headers: { sub: 'x-auth-subject', email: 'x-auth-email', groups: 'x-auth-groups' },
    }, { jwks: jwksOf(key), replay: true }),
  );
  cores.push(c);
  return c;
}

const check = async (c: Core, token: string): Promise<Decision> => c.authorizer.check(request({ headers: bearer(token) }));
const identity = (d: Decision) => Object.fromEntries(d.identity.map((h) => [h.name, h.value]));
let serial = 0;
/** A valid single-use token (fresh jti unless `claims` names one) whose claims may hold lone surrogates. */
const token = (claims: Record<string, unknown>) => signToken(key, { jti: `jti-${++serial}`, ...claims });

/** The issue's three jti values: JSON.stringify (jose) writes the lone surrogates as escapes, as an attacker would. */
const COLLIDING = ['N\ud800', 'N\udfff', 'N\ufffd'] as const;

describe.each([
  ['the memory store', () => core({ store: 'memory' })],
  ['a real redis-server', () => core({ store: 'redis', redis: { url: redis.url, key_prefix: 'claim-text:' } })],
])('single use with %s', (_name, make) => {
  it('refuses jti values that are not text as claim_invalid, so the jti that spells U+FFFD is still fresh', async () => {
    const c = await make();
    const [high, low, replacement] = await Promise.all(COLLIDING.map((jti) => token({ jti })));
    for (const t of [high!, low!]) {
      const d = await check(c, t);
      expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'claim_invalid' });
      expect(d).not.toHaveProperty('replay'); // refused before the store is asked: nothing was consumed
    }
    expect(await check(c, replacement!)).toMatchObject({ kind: 'allow', replay: 'fresh' });
    expect(await check(c, replacement!)).toMatchObject({ kind: 'deny', reason: 'token_replayed' });
    expect(await check(c, high!)).toMatchObject({ kind: 'deny', reason: 'claim_invalid' });
  });
});

it('the redis store holds one record for the one jti that was text', async () => {
  const client = await redis.client();
  expect(await client.keys('claim-text:*')).toHaveLength(1);
});

describe('identity', () => {
  let c: Core;
  beforeAll(async () => {
    c = await core({ store: 'memory' });
  });

  it.each([
    ['a sub', { sub: 'al\ud800ice' }],
    ['a sub with a low surrogate first', { sub: '\udc00alice' }],
    ['an email', { email: 'alice@exa\udbffmple.com' }],
    ['one group in a list', { groups: ['staff', 'ad\udfffmins'] }],
    ['a claim no header names', { note: { deep: ['\ud800'] } }],
    ['a claim name', { ['x\ud800']: 1 }],
  ])('refuses a token with a lone surrogate in %s: 401 claim_invalid, every identity header cleared', async (_name, claims) => {
    const d = await check(c, await token(claims));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'claim_invalid' });
    expect(Object.values(identity(d)).every((v) => v === undefined)).toBe(true);
  });

  it('gives a subject that spells U+FFFD its own identity, and text in other scripts as it is', async () => {
    const d = await check(c, await token({ sub: 'al\ufffdice', email: 'josé@example.com', groups: ['😀', 'b'] }));
    expect(d).toMatchObject({ kind: 'allow' });
    expect(identity(d)).toEqual({ 'x-auth-subject': 'al\ufffdice', 'x-auth-email': 'josé@example.com', 'x-auth-groups': '😀,b' });
  });

  it('accepts a surrogate pair written as JSON escapes (an ASCII-only encoder such as Python\'s json.dumps)', async () => {
    const payload = String.raw`{"iss":"${ISSUER}","aud":"api.test","sub":"\ud83d\ude00","jti":"escaped-pair","iat":${NOW_S - 60},"exp":${NOW_S + 600}}`;
    const t = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(key.privateKey);
    const d = await check(c, t);
    expect(d).toMatchObject({ kind: 'allow' });
    expect(identity(d)['x-auth-subject']).toBe('😀');
  });
});

describe('the verified-token cache', () => {
  it('never answers a token for another whose sub differs only in a lone surrogate: each gets its own answer', async () => {
    const c = await core({ store: 'memory' });
    const jti = 'cache-probe';
    const [high, low, replacement] = await Promise.all(COLLIDING.map((s) => signToken(key, { sub: s, jti: `${jti}-${s.codePointAt(1)}` })));
    for (let round = 0; round < 2; round++) {
      // The second round is answered from the cache (a remembered failure; the allow was consumed as single-use).
      expect(await check(c, high!)).toMatchObject({ kind: 'deny', reason: 'claim_invalid' });
      expect(await check(c, low!)).toMatchObject({ kind: 'deny', reason: 'claim_invalid' });
    }
    expect(c.verifier.cache.stats.negativeHits).toBeGreaterThanOrEqual(2);
    const d = await check(c, replacement!);
    expect(d).toMatchObject({ kind: 'allow', replay: 'fresh' });
    expect(identity(d)['x-auth-subject']).toBe('N\ufffd');
  });
});
