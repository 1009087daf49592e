/** The key source over a real directory and an injected clock: start, pick-up, a directory that goes bad later. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readKeyDir } from '../../../src/core/sign/key-dir.ts';
import { SigningKeyError, SigningKeySource, type SigningKeyEvent } from '../../../src/core/sign/source.ts';
import { keyDir, type KeyDir } from '../../support/signing.ts';

const T0 = 1_800_000_000_000;
const MIN = 60_000;
let dir: KeyDir;
afterEach(() => dir?.cleanup());

function source(path: string, clock: { t: number }, events: SigningKeyEvent[] = []) {
  return new SigningKeySource({ load: () => readKeyDir(path), now: () => clock.t, pollMs: 60_000, location: path, leadMs: 0, tailMs: 6 * MIN, onEvent: (e) => events.push(e) });
}

describe('SigningKeySource', () => {
  it('refuses to start on a bad directory, naming the file', () => {
    dir = keyDir();
    writeFileSync(join(dir.path, 'broken.json'), '{', { mode: 0o600 });
    const s = source(dir.path, { t: T0 });
    expect(() => s.start()).toThrow(SigningKeyError);
    expect(() => s.start()).toThrow(/broken\.json: not valid JSON/);
  });

  it('picks up a new key file on the next poll and signs with it from its activation', () => {
    dir = keyDir();
    const clock = { t: T0 };
    const a = dir.add({ activateAt: T0 - MIN });
    const s = source(dir.path, clock);
    s.start();
    expect(s.signingKey()?.kid).toBe(a);
    const b = dir.add({ activateAt: T0 + MIN });
    s.reload();
    expect(s.jwks().keys.map((k) => k.kid)).toEqual([b, a]);
    clock.t = T0 + MIN;
    expect(s.signingKey()?.kid).toBe(b);
    s.stop();
  });

  it('keeps the last good keys when the directory goes bad, says why once, and is not ready after they retire', () => {
    dir = keyDir();
    const clock = { t: T0 };
    const events: SigningKeyEvent[] = [];
    const a = dir.add({ activateAt: T0 - MIN, retireAt: T0 + 10 * MIN });
    const s = source(dir.path, clock, events);
    s.start();
    writeFileSync(join(dir.path, 'evil.json'), '{"kty":"EC"}', { mode: 0o644 });
    s.reload();
    s.reload();
    expect(s.signingKey()?.kid).toBe(a);
    expect(s.isReady()).toBe(true);
    expect(s.status().last_error).toMatch(/evil\.json: permissions 0644/);
    expect(events.filter((e) => e.type === 'signing_keys_load_failed')).toHaveLength(1);
    clock.t = T0 + 10 * MIN;
    s.reload();
    expect(s.isReady()).toBe(false);
    expect(s.signingKey()).toBeUndefined();
    expect(events.at(-1)).toEqual({ type: 'signing_ready_changed', ready: false });
    expect(JSON.stringify(events)).not.toMatch(/"d":/);
    s.stop();
  });
});
