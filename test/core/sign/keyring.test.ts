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

/** A reload that changes the signer builds a new ring after the previous one (docs/signing.md "Reloads"). */
describe('KeyRing after a reload', () => {
  it('keeps a key both rings hold: it signs at once, its publication start (and so its lead) carries over', () => {
    const before = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    const b = signingKey(T0 + MIN); // activation past, but published here only from T0 + MIN
    before.update([a], T0);
    before.update([a, b], T0 + MIN);
    const reload = T0 + 10 * MIN;
    const after = new KeyRing({ leadMs: L, tailMs: 2 * T }, before);
    after.update([a, b], reload);
    expect(after.signingKey(reload)?.kid).toBe(a.kid);
    expect(after.signingKey(T0 + MIN + L - 1)?.kid).toBe(a.kid);
    expect(after.signingKey(T0 + MIN + L)?.kid).toBe(b.kid); // a lead after the previous ring first published b, not after the reload
    expect(kids(after.published(reload))).toEqual([b.kid, a.kid]);
  });

  it('keeps publishing the keys only the previous ring had for their tail (last use + the previous ttl + skew), never signing with them', () => {
    const before = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    before.update([a], T0);
    const lastUse = T0 + 30 * MIN;
    expect(before.signingKey(lastUse)?.kid).toBe(a.kid);
    const reload = lastUse + 1000;
    const after = new KeyRing({ leadMs: L, tailMs: MIN }, before); // a shorter ttl now: a's tokens were minted with the longer one
    const b = signingKey(reload);
    after.update([b], reload);
    expect(after.signingKey(reload)?.kid).toBe(b.kid);
    expect(kids(after.published(reload))).toEqual([b.kid, a.kid]);
    expect(after.view(reload)).toContainEqual(expect.objectContaining({ kid: a.kid, state: 'removed', published_until: new Date(reload + T).toISOString() }));
    expect(kids(after.published(reload + T - 1))).toEqual([b.kid, a.kid]);
    expect(kids(after.published(reload + T))).toEqual([b.kid]);
    expect(after.view(reload + T).map((v) => v.kid)).toEqual([b.kid]);
  });

  it('counts a use on the previous ring after the reload (a request still finishing on the old config)', () => {
    const before = new KeyRing({ leadMs: L, tailMs: T });
    const a = signingKey(T0);
    before.update([a], T0);
    const reload = T0 + MIN;
    const after = new KeyRing({ leadMs: L, tailMs: T }, before);
    after.update([signingKey(reload)], reload);
    const late = reload + 5000;
    expect(before.signingKey(late)?.kid).toBe(a.kid);
    expect(kids(after.published(late + T - 1))).toContain(a.kid);
    expect(kids(after.published(late + T))).not.toContain(a.kid);
  });

  it('keeps one key published across ten reloads that keep it, and after ten that change it publishes each for its tail only', () => {
    const a = signingKey(T0);
    let ring = new KeyRing({ leadMs: L, tailMs: T });
    ring.update([a], T0);
    for (let i = 1; i <= 10; i++) {
      ring = new KeyRing({ leadMs: L, tailMs: T + i * 1000 }, ring); // e.g. ttl changed
      ring.update([a], T0 + i * 1000);
      expect(ring.signingKey(T0 + i * 1000)?.kid).toBe(a.kid);
      expect(kids(ring.published(T0 + i * 1000))).toEqual([a.kid]);
    }
    const made: string[] = [a.kid];
    let t = T0 + 20_000;
    for (let i = 0; i < 10; i++, t += 1000) {
      const k = signingKey(t);
      ring = new KeyRing({ leadMs: L, tailMs: T }, ring);
      ring.update([k], t);
      expect(ring.signingKey(t)?.kid).toBe(k.kid);
      made.unshift(k.kid);
    }
    expect(kids(ring.published(t)).sort()).toEqual([...made].sort());
    expect(kids(ring.published(t + T + 60_000))).toEqual([made[0]]);
  });
});
