/**
 * How app.ts carries the signer across reloads, with an injected clock (issue 24 §4): a reload that changes another
 * signer setting keeps the generated key, and one that must change the key keeps publishing the old one until the
 * tokens it signed have expired (last use + ttl + max_skew). The real process: test/main/signing-reload.test.ts.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCore, retire, type Core, type Runtime } from '../src/app.ts';
import type { Allow } from '../src/core/types.ts';
import { request, testConfig } from './support/core.ts';
import { jwksOf, makeKey, NOW_S } from './support/tokens.ts';

const SIGNER_ISSUER = 'https://orders.shop.svc';
const clock = { t: NOW_S * 1000 };
const runtime: Runtime = { fetch: () => Promise.reject(new Error('no network')), now: () => clock.t };
let cores: Core[] = [];
let idpJwks: ReturnType<typeof jwksOf>;
beforeAll(async () => {
  idpJwks = jwksOf(await makeKey('ES256', 'idp'));
});
afterEach(() => {
  cores.forEach((c) => c.stop());
  cores = [];
  clock.t = NOW_S * 1000;
});

const config = (signer: Record<string, unknown>) => testConfig({
  workers: 1,
  signer: { issuer: SIGNER_ISSUER, keys: { generate: { rotate_every: '12h' } }, ...signer },
  policies: { outbound: { sign: true } },
}, { jwks: idpJwks });

async function core(signer: Record<string, unknown>, previous?: Core): Promise<Core> {
  const c = createCore(config(signer), runtime, previous);
  cores.push(c);
  await c.start();
  if (previous) retire(previous, c);
  return c;
}

async function mint(c: Core): Promise<string> {
  const d = await c.authorizer.check(request({ contextExtensions: new Map([['policy', 'outbound']]), host: 'payments.svc', scheme: 'https' }));
  expect(d.kind, JSON.stringify(d)).toBe('allow');
  return (d as Allow).signed![1].replace(/^Bearer /, '');
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const published = (c: Core) => c.signing!.source.jwks().keys.map((k) => k.kid);
const verifies = (c: Core, token: string) =>
  jwtVerify(token, createLocalJWKSet(c.signing!.source.jwks() as never), { currentDate: new Date(clock.t), clockTolerance: 60 }).then(() => true, () => false);

describe('the signer across reloads', () => {
  it('keeps the generated key through ten reloads that change ttl: one kid, and a token minted before them still verifies', async () => {
    let c = await core({ ttl: '5m' });
    const first = await mint(c);
    for (let i = 1; i <= 10; i++) {
      clock.t += 1000;
      const next = await core({ ttl: `${5 + i}m` }, c);
      expect(next.signing).not.toBe(c.signing); // the minter follows the new ttl
      c = next;
      expect(kidOf(await mint(c))).toBe(kidOf(first));
      expect(published(c)).toEqual([kidOf(first)]);
    }
    expect(await verifies(c, first)).toBe(true);
  });

  it('when the key must change (another algorithm), signs with the new key and publishes the old one for its ttl + max_skew after the reload', async () => {
    const before = await core({ ttl: '5m', max_skew: '1m' });
    const old = await mint(before);
    clock.t += 10_000;
    const reload = clock.t;
    const after = await core({ ttl: '2m', algorithm: 'EdDSA' }, before);
    const fresh = await mint(after);
    expect(kidOf(fresh)).not.toBe(kidOf(old));
    expect(published(after)).toEqual([kidOf(fresh), kidOf(old)]);
    expect(await verifies(after, old)).toBe(true);
    const until = reload + 6 * 60_000; // the old ttl (5m) + max_skew (1m), though the new ttl is shorter
    expect(after.signing!.source.status().keys).toContainEqual(expect.objectContaining({ kid: kidOf(old), state: 'removed', published_until: new Date(until).toISOString() }));
    clock.t = until - 1;
    expect(published(after)).toContain(kidOf(old));
    clock.t = until;
    expect(published(after)).toEqual([kidOf(fresh)]);
  });
});
