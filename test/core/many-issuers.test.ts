/** Tens of issuers, each with its own key source, audiences and algorithms: `iss` selects exactly one. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/app.ts';
import { bearer, request, startCore, testConfig } from '../support/core.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

const N = 30;
const issuerName = (i: number) => `https://idp-${i}.test/`;
let keys: TestKey[];
let core: Core;

beforeAll(async () => {
  keys = await Promise.all(Array.from({ length: N }, (_, i) => makeKey(i % 2 ? 'ES256' : 'EdDSA', `k-${i}`)));
  core = await startCore(
    testConfig({
      issuers: keys.map((k, i) => ({ issuer: issuerName(i), audiences: [`aud-${i}`], algorithms: [k.alg], jwks: jwksOf(k) })),
    }),
  );
});

describe(`${N} issuers`, () => {
  it('accepts each issuer token with its own key and audience', async () => {
    for (let i = 0; i < N; i++) {
      const d = await core.authorizer.check(request({ headers: bearer(await signToken(keys[i]!, { iss: issuerName(i), aud: `aud-${i}` })) }));
      expect(d, `issuer ${i}`).toMatchObject({ kind: 'allow', issuer: issuerName(i) });
    }
  });

  it("never lets one issuer's key verify a token claiming another issuer, even under the other's kid", async () => {
    for (let i = 0; i < N; i++) {
      const j = (i + 2) % N; // same algorithm family, different issuer
      const token = await signToken(keys[j]!, { iss: issuerName(i), aud: `aud-${i}` }, { header: { kid: `k-${i}` } });
      const d = await core.authorizer.check(request({ headers: bearer(token) }));
      expect(d, `issuer ${i} with key of ${j}`).toMatchObject({ kind: 'deny', reason: 'signature_invalid' });
    }
  });

  it("refuses an issuer's token carrying another issuer's audience", async () => {
    const d = await core.authorizer.check(request({ headers: bearer(await signToken(keys[0]!, { iss: issuerName(0), aud: 'aud-1' })) }));
    expect(d).toMatchObject({ kind: 'deny', reason: 'audience_mismatch' });
  });
});
