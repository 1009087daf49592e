/** A minted token: the claims the issue lists, verifiable with the published key, a fresh 128-bit jti each time. */
import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { Minter } from '../../../src/core/sign/mint.ts';
import type { SignerConfig } from '../../../src/core/config.ts';
import { signingKey } from '../../support/signing.ts';
import { SIGNING_ALGORITHMS } from '../../../src/core/sign/keyfile.ts';

const NOW = 1_800_000_000_000;
const config: SignerConfig = {
  issuer: 'https://orders.shop.svc',
  algorithm: 'ES256',
  keys: { dir: '/unused', allowGroupRead: false },
  ttlMs: 300_000,
  maxSkewMs: 60_000,
  fixedAudience: null,
  subjectHeader: null,
  claims: { team: 'checkout', iss: 'https://forged' },
  allowedAudiences: null,
  replaceExisting: false,
  publishLeadMs: 900_000,
  endpoint: '/sign',
  endpointPolicy: 'sign',
};

describe('Minter', () => {
  it.each(SIGNING_ALGORITHMS)('mints %s tokens that verify with the public key: iss, aud, iat, nbf = now - skew, exp = now + ttl, jti', async (alg) => {
    const key = signingKey(NOW, undefined, alg);
    const minter = new Minter({ ...config, algorithm: alg }, { signingKey: () => key }, () => NOW);
    const token = (await minter.mint({ audience: 'https://payments.svc', claims: { sub: 'orders', exp: 1 } }))!;
    const { payload, protectedHeader } = await jwtVerify(token, createPublicKey({ key: key.publicJwk as never, format: 'jwk' }), {
      currentDate: new Date(NOW),
      algorithms: [alg],
    });
    expect(protectedHeader).toEqual({ alg, kid: key.kid, typ: 'JWT' });
    expect(payload).toEqual({
      team: 'checkout',
      sub: 'orders',
      iss: 'https://orders.shop.svc',
      aud: 'https://payments.svc',
      iat: NOW / 1000,
      nbf: NOW / 1000 - 60,
      exp: NOW / 1000 + 300,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
  });

  it('gives every token its own jti from 16 random bytes', async () => {
    const key = signingKey(NOW);
    const sizes: number[] = [];
    const minter = new Minter(config, { signingKey: () => key }, () => NOW, (n) => {
      sizes.push(n);
      return Buffer.alloc(n, sizes.length);
    });
    const jtis = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const token = (await minter.mint({ audience: 'a' }))!;
      jtis.add(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti);
    }
    expect(sizes).toEqual([16, 16, 16, 16, 16]);
    expect(jtis.size).toBe(5);
    const real = new Minter(config, { signingKey: () => key }, () => NOW);
    const a = (await real.mint({ audience: 'a' }))!;
    const b = (await real.mint({ audience: 'a' }))!;
    expect(a).not.toBe(b);
    expect(decodeProtectedHeader(a).kid).toBe(key.kid);
  });

  it('mints nothing when no key can sign', async () => {
    const minter = new Minter(config, { signingKey: () => undefined }, () => NOW);
    expect(await minter.mint({ audience: 'a' })).toBeUndefined();
  });
});
