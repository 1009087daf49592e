/**
 * Wires the signer from a frozen config: the key source (a directory polled every 2 s, or keys made in memory),
 * the ring's lead and tail, and the minter the core's signing rules use. Clock and key loader are injected.
 */
import type { SignerConfig } from './core/config.ts';
import { readKeyDir, type KeyDirResult } from './core/sign/key-dir.ts';
import { GeneratedKeys } from './core/sign/generated.ts';
import { SigningKeySource, type SigningKeyEvent } from './core/sign/source.ts';
import { Minter } from './core/sign/mint.ts';

/** How often a key directory is read again: a new file signs (after its lead) within this. */
export const KEY_DIR_POLL_MS = 2_000;

export interface Signing {
  readonly source: SigningKeySource;
  readonly minter: Minter;
  /** With `keys.generate`: the keys made in memory, which a reload takes over (same algorithm). */
  readonly generated?: GeneratedKeys;
}

export interface SigningRuntime {
  readonly now: () => number;
  readonly onSigningEvent?: (event: SigningKeyEvent) => void;
  /** Replaces the key directory reader (tests). */
  readonly loadKeys?: () => KeyDirResult;
}

/**
 * `previous`: the signer a reload replaces. Its generated keys are kept (same algorithm), and its ring hands over
 * what it published, so a reload that changes `ttl` or `claims` neither changes the key nor drops one from the JWKS.
 */
export function createSigning(config: SignerConfig, runtime: SigningRuntime, previous?: Signing): Signing {
  let load: () => KeyDirResult;
  let location: string;
  let generated: GeneratedKeys | undefined;
  if ('dir' in config.keys) {
    const dir = config.keys.dir;
    location = `dir:${dir}`;
    const allowGroupRead = config.keys.allowGroupRead;
    load = runtime.loadKeys ?? (() => readKeyDir(dir, { allowGroupRead }));
  } else {
    const keys = new GeneratedKeys({ alg: config.algorithm, rotateEveryMs: config.keys.generate.rotateEveryMs, leadMs: config.publishLeadMs }, previous?.generated);
    generated = keys;
    location = 'generated in memory';
    load = () => ({ ok: true, keys: keys.keys(runtime.now()) });
  }
  const source = new SigningKeySource({
    load,
    now: runtime.now,
    location,
    pollMs: KEY_DIR_POLL_MS,
    leadMs: config.publishLeadMs,
    // A token minted at the last moment a key signs is accepted until exp plus the verifiers' leeway.
    tailMs: config.ttlMs + config.maxSkewMs,
    ...(runtime.onSigningEvent ? { onEvent: runtime.onSigningEvent } : {}),
    ...(previous !== undefined ? { previous: previous.source } : {}),
  });
  return { source, minter: new Minter(config, source, runtime.now), ...(generated !== undefined ? { generated } : {}) };
}

/** Cache-Control max-age of the published JWKS: well under the lead, so verifiers see a new key before it signs. */
export function jwksMaxAgeSeconds(config: SignerConfig): number {
  return Math.max(0, Math.min(60, Math.floor(config.publishLeadMs / 4000)));
}
