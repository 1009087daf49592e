/**
 * RFC 8705 certificate-bound access tokens: a token whose `cnf` names `x5t#S256` is accepted only from the client
 * that holds that certificate, i.e. when the request's client certificate (AuthRequest.clientCertificate, filled by
 * the transport from Envoy's TLS state or the proxy's header) has that SHA-256 thumbprint.
 *
 * The check reads the request, never the token cache: the cache keeps the verified token, and every request shows
 * its own certificate. A token without `x5t#S256` is not certificate-bound and passes untouched (sender_constraint
 * policy is the DPoP side's, core/bind/dpop.ts).
 */
import { Reasons, type ReasonCode } from '../reasons.ts';
import type { AuthRequest } from '../types.ts';
import { readCertificate } from '../client-certificate.ts';

export type CertificateBinding =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: ReasonCode; readonly message: string };

const BOUND: CertificateBinding = Object.freeze({ ok: true });
/** base64url of 32 bytes, unpadded. */
const THUMBPRINT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * `x5t`: the token's `cnf.x5t#S256`, as the bind step read it from `cnf` (bind.ts confirmationOf, the one reader of
 * the claim). Holds when the request's client certificate has that thumbprint.
 */
export function checkCertificateBinding(x5t: string, request: AuthRequest): CertificateBinding {
  if (!THUMBPRINT.test(x5t)) return { ok: false, reason: Reasons.claimInvalid, message: 'claim "cnf.x5t#S256" is not a base64url SHA-256 thumbprint' };
  const cert = request.clientCertificate;
  if (cert === undefined) {
    return { ok: false, reason: Reasons.certificateMissing, message: 'the token is bound to a client certificate and the request came without one' };
  }
  const read = readCertificate(cert);
  if (!read.ok) return { ok: false, reason: Reasons.certificateMissing, message: `the token is bound to a client certificate and the request's cannot be read: ${read.message}` };
  if (read.thumbprint !== x5t) {
    return { ok: false, reason: Reasons.certificateBindingMismatch, message: 'the client certificate is not the one the token is bound to (cnf.x5t#S256)' };
  }
  return BOUND;
}
