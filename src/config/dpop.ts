/**
 * The `dpop` section (RFC 9449 proofs, docs/sender-constrained.md): its schema and defaults, and the checks that span
 * several keys. The nonce secret file is checked here (readable, long enough) so a bad one stops the start naming
 * its key path; its bytes are read by app.ts when a core is built (start and every reload), never kept in the
 * config and never logged.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { array, boolean, def, duration, oneOf, opt, section, string } from './kit.ts';
import type { Algorithm, DpopConfig, IssuerConfig } from '../core/config.ts';
import type { PolicyConfig } from '../core/policy/types.ts';

/** Proof algorithms Portcullis can verify: asymmetric only (`none` and HMAC are never a proof). */
export const DPOP_ALGORITHMS: readonly Algorithm[] = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'];

/** A nonce secret shorter than this is refused: it keys the HMAC every replica derives nonces from. */
export const NONCE_SECRET_MIN_BYTES = 32;

/** `dpop`: every key has its default here. */
export const dpopSection = section({
  algorithms: def(array(oneOf(DPOP_ALGORITHMS), { min: 1, unique: true }), ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as Algorithm[], 'proof algorithms accepted (asymmetric only)'),
  max_age: def(duration(1000), 60_000, 'how old a proof\'s iat may be (at most 1h)'),
  leeway: def(duration(0), 5_000, 'how far in the future a proof\'s iat may be (at most 5m)'),
  nonce: def(boolean, false, 'true: server nonces (RFC 9449 section 8), derived from nonce_secret_file'),
  nonce_secret_file: opt(string((s) => (s === '' ? 'must not be empty' : null)), 'with nonce: true, at least 32 bytes; the same file on every replica'),
}, 'DPoP proofs (RFC 9449): docs/sender-constrained.md');

type RawDpop = NonNullable<(typeof dpopSection)['default']>;

export function toDpopConfig(raw: RawDpop, baseDir: string, problems: string[]): DpopConfig {
  if (raw.max_age > 3_600_000) problems.push('dpop.max_age: must be at most 1h (a proof is meant for one request, now)');
  if (raw.leeway > 300_000) problems.push('dpop.leeway: must be at most 5m');
  let nonceSecretFile: string | undefined;
  if (raw.nonce_secret_file !== undefined) {
    nonceSecretFile = resolve(baseDir, raw.nonce_secret_file);
    const problem = nonceSecretProblem(nonceSecretFile);
    if (problem !== null) problems.push(`dpop.nonce_secret_file: ${problem}`);
  }
  if (raw.nonce && nonceSecretFile === undefined) {
    problems.push('dpop.nonce_secret_file: required when dpop.nonce is true (the same file on every replica, so that each accepts the others\' nonces)');
  }
  return {
    algorithms: raw.algorithms,
    maxAgeMs: raw.max_age,
    leewayMs: raw.leeway,
    nonce: raw.nonce,
    ...(nonceSecretFile !== undefined ? { nonceSecretFile } : {}),
  };
}

/** Reads the nonce secret (app.ts, at every core build). Throws naming the file, never its content. */
export function readNonceSecret(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`dpop.nonce_secret_file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const secret = trimEnd(bytes);
  if (secret.length < NONCE_SECRET_MIN_BYTES) throw new Error(`dpop.nonce_secret_file: ${path} holds ${secret.length} bytes; at least ${NONCE_SECRET_MIN_BYTES} are needed`);
  return secret;
}

function nonceSecretProblem(path: string): string | null {
  try {
    readNonceSecret(path);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^dpop\.nonce_secret_file: /, '');
  }
}

/** A trailing newline (echo > file, a Secret written by hand) is not part of the secret. */
function trimEnd(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return bytes.subarray(0, end);
}

/**
 * Proof jti values live in the replay store. A memory store keeps them inside one process: with several workers a
 * proof replayed to another worker would pass. Refused when DPoP is configured on purpose (a `dpop` section, an
 * issuer with sender_constraint: required, a rule with sender_constrained), like single-use tokens are.
 */
export function dpopStoreProblem(explicit: boolean, store: 'memory' | 'redis', workers: number, issuers: readonly IssuerConfig[], policy: PolicyConfig): string | null {
  if (store !== 'memory' || workers <= 1) return null;
  const required = issuers.some((i) => i.senderConstraint === 'required') || [...policy.routes.map((r) => r.rule), ...policy.policies.values()].some((r) => r.senderConstrained === true);
  if (!explicit && !required) return null;
  return `replay.store: memory keeps DPoP proof jti values inside one process, but ${workers} workers run (workers defaults to the CPU count): ` +
    'a proof replayed to another worker would pass. Use store: redis, or set workers: 1';
}
