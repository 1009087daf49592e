/**
 * Certificate names as identity headers: `identity_headers_from_cert` (x5c issuers: the verified leaf's subject and
 * SANs) and `client_certificate.identity_headers` (the request's client certificate: also its thumbprint).
 * Like claim headers, a value that is unsafe or too long is withheld, never cut; SANs are joined with "," and a
 * SAN that itself contains "," withholds the header (the list would read differently than it was written). Their
 * names are listed with every other identity header by identity.ts `identityHeaderNames`.
 */
import type { CertIdentityHeaders } from './config.ts';
import { headerValue } from './identity.ts';

/** What a certificate says, whoever read it (an x5c leaf's CertInfo, a client certificate's CertificateView). */
export interface CertNames {
  readonly subject: string | undefined;
  readonly sans: readonly string[];
  readonly thumbprint?: string;
}

/** Each configured header with its value; `undefined` values (no certificate, unsafe text) clear the header. */
export function certHeaderValues(h: CertIdentityHeaders | undefined, cert: CertNames | undefined, maxBytes: number): [string, string | undefined][] {
  if (!h) return [];
  const out: [string, string | undefined][] = [];
  if (h.subject !== undefined) out.push([h.subject, headerValue(cert?.subject, maxBytes)]);
  if (h.sans !== undefined) out.push([h.sans, cert === undefined || cert.sans.some((s) => s.includes(',')) ? undefined : headerValue(cert.sans.join(','), maxBytes)]);
  if (h.thumbprint !== undefined) out.push([h.thumbprint, headerValue(cert?.thumbprint, maxBytes)]);
  return out;
}
