/** `signer.keys.generate`: in-memory rotation every rotate_every, each next key made a lead before it signs. */
import { describe, expect, it } from 'vitest';
import { GeneratedKeys } from '../../../src/core/sign/generated.ts';
import { KeyRing } from '../../../src/core/sign/keyring.ts';

const H = 3_600_000;
const T0 = 1_800_000_000_000;

describe('GeneratedKeys', () => {
  it('signs at once, publishes the next key a lead ahead, switches at rotate_every, and retires the previous one', () => {
    const gen = new GeneratedKeys({ alg: 'EdDSA', rotateEveryMs: 12 * H, leadMs: H });
    const ring = new KeyRing({ leadMs: H, tailMs: 0.1 * H });
    const at = (t: number) => {
      ring.update(gen.keys(t), t);
      return { signer: ring.signingKey(t)?.kid, published: ring.published(t).map((k) => k.kid) };
    };
    const first = at(T0);
    expect(first.published).toEqual([first.signer]);
    expect(at(T0 + 11 * H - 1).published).toEqual([first.signer]);
    const ahead = at(T0 + 11 * H);
    expect(ahead.signer).toBe(first.signer);
    expect(ahead.published).toHaveLength(2);
    const second = at(T0 + 12 * H);
    expect(second.signer).not.toBe(first.signer);
    expect(second.published).toEqual([second.signer, first.signer]); // tokens of the first still live
    expect(at(T0 + 12.1 * H).published).toEqual([second.signer]);
  });

  it('keeps its keys for a reload that generates with the same algorithm (other rotate_every or lead), and makes a new one for another algorithm', () => {
    const gen = new GeneratedKeys({ alg: 'EdDSA', rotateEveryMs: 12 * H, leadMs: H });
    const kid = gen.keys(T0)[0]!.kid;
    const same = new GeneratedKeys({ alg: 'EdDSA', rotateEveryMs: 24 * H, leadMs: 2 * H }, gen);
    expect(same.keys(T0 + 1000).map((k) => k.kid)).toEqual([kid]);
    expect(same.keys(T0 + 22 * H).map((k) => k.kid)).toHaveLength(2); // the new rotate_every and lead decide the next key
    expect(gen.keys(T0 + 1000).map((k) => k.kid)).toEqual([kid]); // a copy: the previous generator is left as it was
    const other = new GeneratedKeys({ alg: 'ES256', rotateEveryMs: 12 * H, leadMs: H }, gen);
    expect(other.keys(T0 + 1000).map((k) => k.kid)).not.toContain(kid);
  });
});
