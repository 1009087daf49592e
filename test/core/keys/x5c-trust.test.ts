/**
 * X5cTrust, the x5c issuer's key source: ready from its roots alone, a bounded cache of verified chains keyed by
 * certificate fingerprints, and `holds` only for keys it handed out, only while their chain is valid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { X5cTrust } from '../../../src/core/keys/x5c-trust.ts';
import { parseKeySet } from '../../../src/core/keys/keyset.ts';
import { TestPki, type IssuedCert } from '../../support/pki.ts';

const NOW = Math.floor(Date.now() / 1000) * 1000;
let pki: TestPki;
let root: IssuedCert, int: IssuedCert, a: IssuedCert, b: IssuedCert;

beforeAll(() => {
  pki = new TestPki(NOW);
  root = pki.ca('root');
  int = pki.ca('int', root);
  a = pki.leaf('a', int, { notAfter: NOW + 3_600_000 });
  b = pki.leaf('b', int);
});
afterAll(() => pki?.cleanup());

function trust(opts: { maxChains?: number; now?: () => number } = {}): X5cTrust {
  const cert = new X509Certificate(root.pem);
  return new X5cTrust({
    issuer: 'p', roots: [{ file: root.pemFile, der: cert.raw.toString('base64'), subject: 'CN=root', sha256: 'x' }],
    extendedKeyUsage: ['1.3.6.1.5.5.7.3.2'], leewayMs: 60_000, now: opts.now ?? (() => NOW), ...(opts.maxChains !== undefined ? { maxChains: opts.maxChains } : {}),
  });
}

describe('X5cTrust', () => {
  it('answers a chain it verified before from its cache, by the certificates\' fingerprints', async () => {
    const t = trust();
    expect(await t.lookup([a.x5c, int.x5c], 'ES256')).toMatchObject({ kind: 'found', cached: false });
    expect(await t.lookup([a.x5c, int.x5c], 'ES256')).toMatchObject({ kind: 'found', cached: true });
    expect(await t.lookup([a.x5c, int.x5c, root.x5c], 'ES256')).toMatchObject({ kind: 'found', cached: false });
  });

  it('keeps at most maxChains chains, evicting the oldest', async () => {
    const t = trust({ maxChains: 1 });
    await t.lookup([a.x5c, int.x5c], 'ES256');
    await t.lookup([b.x5c, int.x5c], 'ES256');
    expect(await t.lookup([b.x5c, int.x5c], 'ES256')).toMatchObject({ cached: true });
    expect(await t.lookup([a.x5c, int.x5c], 'ES256')).toMatchObject({ cached: false });
  });

  it('does not remember failures, and with maxChains 0 remembers nothing', async () => {
    const t = trust({ maxChains: 0 });
    await t.lookup([a.x5c, int.x5c], 'ES256');
    expect(await t.lookup([a.x5c, int.x5c], 'ES256')).toMatchObject({ cached: false });
    expect(await t.lookup([a.x5c], 'ES256')).toMatchObject({ kind: 'denied', reason: 'x5c_untrusted' });
  });

  it('holds a key it handed out only while the chain is valid (leeway included), and never a JWKS key', async () => {
    let now = NOW;
    const t = trust({ now: () => now });
    const r = await t.lookup([a.x5c, int.x5c], 'ES256');
    if (r.kind !== 'found') throw new Error('expected a key');
    expect(t.holds(r.entry)).toBe(true);
    now = NOW + 3_600_000 + 59_000;
    expect(t.holds(r.entry)).toBe(true);
    now = NOW + 3_600_000 + 61_000;
    expect(t.holds(r.entry)).toBe(false);
    expect(await t.lookup([a.x5c, int.x5c], 'ES256')).toMatchObject({ kind: 'denied', reason: 'x5c_expired' });
    const jwks = parseKeySet({ keys: [{ ...r.entry.publicJwk }] });
    if (!jwks.ok) throw new Error(jwks.error);
    expect(t.holds(jwks.set.entries[0]!)).toBe(false);
  });

  it('is ready without loading anything and reports its roots', async () => {
    const t = trust();
    await t.start();
    expect(t.isReady()).toBe(true);
    expect(t.status()).toMatchObject({ issuer: 'p', ready: true, lastError: null, keys: [{ kty: 'x509', subject: 'CN=root' }] });
  });
});
