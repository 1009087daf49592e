/** x5c tokens for tests: a step CLI-shaped token signed by a test certificate's key, with its chain in the header. */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { IssuedCert } from './pki.ts';

export const PROVISIONER = 'x5c-provisioner';
export const CA_AUDIENCE = 'https://ca.example.com/1.0/sign';
export const PROXY_AUDIENCE = 'https://caddy:9595/1.0/sign';

const ALG: Record<IssuedCert['keyKind'], string> = { ec: 'ES256', rsa: 'RS256', ed25519: 'EdDSA' };

export interface X5cTokenOptions {
  /** Header x5c; default [signer, ...chain]. */
  readonly x5c?: unknown;
  readonly chain?: readonly IssuedCert[];
  readonly header?: Record<string, unknown>;
  readonly claims?: Record<string, unknown>;
  /** Sign with this key instead of the leaf's. */
  readonly signWith?: IssuedCert;
  readonly alg?: string;
}

/**
 * What `step ca token --provisioner x5c-provisioner --x5c-cert leaf.crt --x5c-key leaf.key` sends: header alg, kid (the
 * key file path), typ JWT, x5c; claims iss (provisioner), sub, sans, jti (64 hex), iat = nbf = now, exp = now + 5 m,
 * aud = the sign URL + "#x5c/<provisioner>", sha (root fingerprint). SSH tokens add `step.ssh` (pass it in `claims`).
 */
export function stepX5cToken(leaf: IssuedCert, nowMs: number, opts: X5cTokenOptions = {}): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const claims: Record<string, unknown> = {
    iss: PROVISIONER,
    sub: 'workload.example.com',
    sans: ['workload.example.com'],
    jti: randomBytes(32).toString('hex'),
    iat: now,
    nbf: now,
    exp: now + 300,
    aud: `${PROXY_AUDIENCE}#x5c/${PROVISIONER}`,
    sha: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ...opts.claims,
  };
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const signer = opts.signWith ?? leaf;
  const header = {
    alg: opts.alg ?? ALG[signer.keyKind],
    kid: leaf.keyFile,
    typ: 'JWT',
    x5c: opts.x5c ?? [leaf.x5c, ...(opts.chain ?? []).map((c) => c.x5c)],
    ...opts.header,
  };
  for (const k of Object.keys(header)) if ((header as Record<string, unknown>)[k] === undefined) delete (header as Record<string, unknown>)[k];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(signer.privateKey);
}
