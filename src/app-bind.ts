/**
 * Wires the bind stage (core/bind) from a frozen config: the DPoP proof checker with the replay store (proof jti
 * values, keyed per key thumbprint) and, with dpop.nonce, the nonces derived from the shared secret file. The
 * secret is read here, at every core build (start and each reload), and goes nowhere else: not into the config,
 * not into a log line.
 */
import type { Config, DpopConfig } from './core/config.ts';
import { MemoryReplayStore, type ReplayStore } from './core/replay.ts';
import { Binder } from './core/bind/bind.ts';
import { DpopProofs } from './core/bind/dpop.ts';
import { DpopNonces } from './core/bind/nonce.ts';
import { dpopSection, readNonceSecret, toDpopConfig } from './config/dpop.ts';

/**
 * What a config without a `dpop` section gets (partial test configs; config/load.ts always sets one): the section's
 * own defaults, from the one schema.
 */
const DEFAULT_DPOP: DpopConfig = toDpopConfig(dpopSection.default!, '', []);

/**
 * `store`: the replay store of single-use tokens when there is one; otherwise (memory, nothing single-use) the proofs
 * get a memory store of their own, which a reload replaces.
 */
export function createBinder(config: Config, store: ReplayStore | null, now: () => number): Binder {
  const dpop = config.dpop ?? DEFAULT_DPOP;
  const nonces = dpop.nonce && dpop.nonceSecretFile !== undefined ? new DpopNonces(readNonceSecret(dpop.nonceSecretFile), dpop.maxAgeMs, now) : null;
  const proofs = new DpopProofs({ config: dpop, store: store ?? new MemoryReplayStore({ now }), onStoreError: config.replay?.onStoreError ?? 'deny', nonces, now });
  return new Binder(config.issuers, proofs);
}
