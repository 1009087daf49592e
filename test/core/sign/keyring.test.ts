/**
 * The rotation timeline (docs/signing.md), with an injected clock: lead L = 15 min, tail T = ttl 5 min + skew 1 min.
 */
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../../src/core/sign/keyring.ts';
import { signingKey } from '../../support/signing.ts';

const MIN = 60_000;
const L = 15 * MIN;
const T = 6 * MIN;
const T0 = 1_800_000_000_000;

const kids = (keys: readonly Readonly<Record<string, string>>[]) => keys.map((k) => k.kid);

describe('KeyRing', () => {
  it('signs with the very first key at once: there is nothing older to fall back on', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    ring.update([a], T0);
    expect(ring.signingKey(T0)?.kid).toBe(a.kid);
    expect(kids(ring.published(T0))).toEqual([a.kid]);
  });

  it('publishes a new key at once and signs with it only from its activation, never before a lead of publication', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    ring.update([a], T0);
    const b = signingKey(T0 + 2 * L);
    ring.update([a, b], T0 + L); // the file arrives a lead before it activates
    expect(kids(ring.published(T0 + L))).toEqual([b.kid, a.kid]);
    expect(ring.signingKey(T0 + 2 * L - 1)?.kid).toBe(a.kid);
    expect(ring.signingKey(T0 + 2 * L)?.kid).toBe(b.kid);
  });

  it('holds a key whose file arrived late until it has been published for a full lead', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    ring.update([a], T0);
    const b = signingKey(T0 + MIN); // activation already past when this replica first sees it
    const seen = T0 + 10 * MIN;
    ring.update([a, b], seen);
    expect(ring.signingKey(seen)?.kid).toBe(a.kid);
    expect(ring.signingKey(seen + L - 1)?.kid).toBe(a.kid);
    expect(ring.signingKey(seen + L)?.kid).toBe(b.kid);
  });

  it('keeps a removed key published until every token it signed has expired (last use + ttl + skew), then drops it', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    const b = signingKey(T0 + L);
    ring.update([a, b], T0);
    const lastUseOfA = T0 + L - 1;
    expect(ring.signingKey(lastUseOfA)?.kid).toBe(a.kid);
    expect(ring.signingKey(T0 + L)?.kid).toBe(b.kid);
    // The operator removes a's file right after the switch: it stays published.
    ring.update([b], T0 + L + MIN);
    expect(ring.signingKey(T0 + L + MIN)?.kid).toBe(b.kid);
    expect(kids(ring.published(T0 + L + MIN))).toContain(a.kid);
    expect(kids(ring.published(T0 + L + MIN + T - 1))).toContain(a.kid);
    expect(kids(ring.published(T0 + L + MIN + T))).not.toContain(a.kid);
  });

  it('stops signing at retire_at and publishes the key until retire_at + tail', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0, T0 + 60 * MIN);
    ring.update([a], T0);
    expect(ring.canSign(T0 + 60 * MIN - 1)).toBe(true);
    expect(ring.canSign(T0 + 60 * MIN)).toBe(false);
    expect(kids(ring.published(T0 + 60 * MIN + T - 1))).toEqual([a.kid]);
    expect(kids(ring.published(T0 + 60 * MIN + T))).toEqual([]);
  });

  it('is not ready before the first key activates, and publishes that key ahead', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0 + L);
    ring.update([a], T0);
    expect(ring.canSign(T0)).toBe(false);
    expect(ring.signingKey(T0)).toBeUndefined();
    expect(kids(ring.published(T0))).toEqual([a.kid]);
    expect(ring.view(T0)[0]?.state).toBe('pending');
  });

  it('publishes public members only, in every view', () => {
    const ring = new KeyRing({ leadMs: L, tailMs: T });
    ring.update([signingKey(T0), signingKey(T0, undefined, 'RS256'), signingKey(T0, undefined, 'EdDSA')], T0);
    for (const jwk of ring.published(T0)) {
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(secret);
      expect(jwk.use).toBe('sig');
    }
    expect(JSON.stringify(ring.view(T0))).not.toMatch(/"d"|"p"|"q"/);
  });

  it('picks the same key on every replica when two activate at the same time (kid order)', () => {
    const a = signingKey(T0);
    const b = signingKey(T0);
    const one = new KeyRing({ leadMs: 0, tailMs: T });
    const two = new KeyRing({ leadMs: 0, tailMs: T });
    one.update([a, b], T0);
    two.update([b, a], T0);
    expect(one.signingKey(T0)?.kid).toBe(two.signingKey(T0)?.kid);
  });
});
