/**
 * The proof checker remembers each client's proof header (typ, alg, jwk) by its exact segment, with the jwk's
 * thumbprint and imported key hung off it, so a cached token's next proofs pay for their signature only. These pin
 * that the memory never changes a verdict: another jwk never gets a remembered key or thumbprint, a header the memory
 * holds is still checked, and a flood of distinct jwks (or one huge header) cannot grow it past its bounds.
 * DpopProofs is driven directly (memory replay store, injected clock); test/core/bind/dpop.test.ts goes through the core.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DpopConfig } from '../../../src/core/config.ts';
import { DpopProofs, type ProofInput } from '../../../src/core/bind/dpop.ts';
import { MemoryReplayStore } from '../../../src/core/replay.ts';
import type { BindResult } from '../../../src/core/bind/types.ts';
import { request } from '../../support/core.ts';
import { makeKey, NOW_S, type TestKey } from '../../support/tokens.ts';
import { jktOf, makeProof, proofJwk } from '../../support/dpop.ts';

const CONFIG: DpopConfig = { algorithms: ['ES256', 'EdDSA', 'RS256'], maxAgeMs: 60_000, leewayMs: 5_000, nonce: false };
const TOKEN = 'header.payload.signature-of-token-one';
const now = () => NOW_S * 1000;

const checker = (cache?: { maxEntries: number; maxChars: number }) =>
  new DpopProofs({ config: CONFIG, store: new MemoryReplayStore({ now }), onStoreError: 'deny', nonces: null, now, ...(cache ? { cache } : {}) });
const input = (proof: string, jkt: string, token = TOKEN): ProofInput => ({ request: request(), proof, token, jkt });
const verdict = (r: BindResult) => (r.ok ? 'ok' : r.reason);

let a: TestKey, b: TestKey;
let jktA: string, jktB: string;

beforeAll(async () => {
  [a, b] = await Promise.all([makeKey('ES256', 'a'), makeKey('ES256', 'b')]);
  [jktA, jktB] = await Promise.all([jktOf(a), jktOf(b)]);
});

describe('the remembered proof headers', () => {
  it('serve a client\'s next proofs: one entry per header, each proof still checked in full', async () => {
    const proofs = checker();
    for (let i = 0; i < 3; i++) expect(verdict(await proofs.check(input(await makeProof(a, { iat: NOW_S, token: TOKEN }), jktA)))).toBe('ok');
    expect(proofs.cachedHeaders).toBe(1);
    // Same remembered header, but this proof is for another method, another token, and then replayed.
    expect(verdict(await proofs.check(input(await makeProof(a, { iat: NOW_S, token: TOKEN, htm: 'POST' }), jktA)))).toBe('dpop_proof_invalid');
    expect(verdict(await proofs.check(input(await makeProof(a, { iat: NOW_S, token: 'another.token.entirely' }), jktA)))).toBe('dpop_proof_invalid');
    const once = await makeProof(a, { iat: NOW_S, token: TOKEN });
    expect(verdict(await proofs.check(input(once, jktA)))).toBe('ok');
    expect(verdict(await proofs.check(input(once, jktA)))).toBe('dpop_proof_replayed');
  });

  it('never lend one jwk\'s key or thumbprint to another jwk', async () => {
    const proofs = checker();
    expect(verdict(await proofs.check(input(await makeProof(a, { iat: NOW_S, token: TOKEN }), jktA)))).toBe('ok');
    // b's own proof after a's header is remembered: b's thumbprint, so it binds to b's token and not to a's.
    expect(verdict(await proofs.check(input(await makeProof(b, { iat: NOW_S, token: TOKEN }), jktA)))).toBe('dpop_binding_mismatch');
    expect(verdict(await proofs.check(input(await makeProof(b, { iat: NOW_S, token: TOKEN }), jktB)))).toBe('ok');
    // a's remembered header over b's signature: checked under a's key, so the signature fails.
    const forged = await makeProof({ ...b, jwk: a.jwk }, { iat: NOW_S, token: TOKEN });
    expect(forged.split('.')[0]).toBe((await makeProof(a, { iat: NOW_S, token: TOKEN })).split('.')[0]);
    expect(verdict(await proofs.check(input(forged, jktA)))).toBe('dpop_proof_invalid');
    expect(proofs.cachedHeaders).toBe(2);
  });

  it('never take one token\'s remembered hash (ath) for another token, even on the same holder', async () => {
    const proofs = checker();
    const holder = {};
    const other = 'header.payload.signature-of-token-two';
    const withHolder = (proof: string, token: string): ProofInput => ({ ...input(proof, jktA, token), holder });
    expect(verdict(await proofs.check(withHolder(await makeProof(a, { iat: NOW_S, token: TOKEN }), TOKEN)))).toBe('ok');
    expect(verdict(await proofs.check(withHolder(await makeProof(a, { iat: NOW_S, token: TOKEN }), other)))).toBe('dpop_proof_invalid');
    expect(verdict(await proofs.check(withHolder(await makeProof(a, { iat: NOW_S, token: other }), other)))).toBe('ok');
    expect(verdict(await proofs.check(withHolder(await makeProof(a, { iat: NOW_S, token: other }), TOKEN)))).toBe('dpop_proof_invalid');
    expect(verdict(await proofs.check(withHolder(await makeProof(a, { iat: NOW_S, token: TOKEN }), TOKEN)))).toBe('ok');
  });

  it('keep two headers that end alike apart (same jwk, typ dpop+JWT): each keeps its own verdict', async () => {
    const proofs = checker();
    const good = () => makeProof(a, { iat: NOW_S, token: TOKEN });
    const jwtTyped = () => makeProof(a, { iat: NOW_S, token: TOKEN, header: { typ: 'dpop+JWT' } }); // same length: same base64 tail
    expect((await good()).split('.')[0]!.slice(-48)).toBe((await jwtTyped()).split('.')[0]!.slice(-48));
    for (let i = 0; i < 2; i++) {
      expect(verdict(await proofs.check(input(await good(), jktA)))).toBe('ok');
      expect(verdict(await proofs.check(input(await jwtTyped(), jktA)))).toBe('dpop_proof_invalid');
    }
  });

  it('still refuse a remembered header whose member checks fail under this config', async () => {
    const strict = new DpopProofs({ config: { ...CONFIG, algorithms: ['RS256'] }, store: new MemoryReplayStore({ now }), onStoreError: 'deny', nonces: null, now });
    const p = await makeProof(a, { iat: NOW_S, token: TOKEN });
    for (let i = 0; i < 2; i++) expect(verdict(await strict.check(input(p, jktA)))).toBe('dpop_proof_invalid');
  });

  it('stay within their entry count under a flood of distinct jwks, and every proof keeps its own verdict', async () => {
    const proofs = checker({ maxEntries: 4, maxChars: 1_000_000 });
    const keys = await Promise.all(Array.from({ length: 12 }, (_, i) => makeKey('ES256', `f${i}`)));
    for (const key of [...keys, ...keys]) {
      const jkt = await jktOf(key);
      expect(verdict(await proofs.check(input(await makeProof(key, { iat: NOW_S, token: TOKEN }), jkt)))).toBe('ok');
      expect(verdict(await proofs.check(input(await makeProof(key, { iat: NOW_S, token: TOKEN }), jktA)))).toBe('dpop_binding_mismatch');
      expect(proofs.cachedHeaders).toBeLessThanOrEqual(4);
    }
    expect(proofs.cachedHeaders).toBe(4);
  });

  it('never hold a header bigger than their character bound (a jwk padded with junk members)', async () => {
    const proofs = checker({ maxEntries: 100, maxChars: 2_000 });
    const padded = await makeProof(a, { iat: NOW_S, token: TOKEN, header: { jwk: { ...proofJwk(a), junk: 'x'.repeat(4_000) } } });
    expect(verdict(await proofs.check(input(padded, jktA)))).toBe('ok');
    expect(proofs.cachedHeaders).toBe(0);
    for (let i = 0; i < 5; i++) {
      const p = await makeProof(a, { iat: NOW_S, token: TOKEN, header: { jwk: { ...proofJwk(a), junk: String(i).repeat(400) } } });
      expect(verdict(await proofs.check(input(p, jktA)))).toBe('ok');
    }
    expect(proofs.cachedHeaders).toBeLessThan(5);
  });
});

describe('explaining a proof', () => {
  it('reports each refusal and the pass, and never consumes the jti', async () => {
    const proofs = checker();
    const steps: { ok: boolean; detail: string }[] = [];
    const explain = (s: { ok: boolean; detail: string }) => void steps.push(s);
    const p = await makeProof(a, { iat: NOW_S, token: TOKEN });
    expect(verdict(await proofs.check(input(p, jktA), explain))).toBe('ok');
    expect(steps.at(-1)).toMatchObject({ ok: true, detail: expect.stringContaining('would be consumed now') });
    expect(verdict(await proofs.check(input(await makeProof(a, { iat: NOW_S, token: TOKEN, htm: 'PUT' }), jktA), explain))).toBe('dpop_proof_invalid');
    expect(steps.at(-1)).toMatchObject({ ok: false, detail: expect.stringContaining('htm "PUT"') });
    expect(verdict(await proofs.check(input(p, jktA)))).toBe('ok');
  });
});
