/**
 * `identity_headers_from_cert` (x5c issuers): the verified leaf certificate's subject and SANs as identity headers.
 * Like claim headers, a value that is unsafe or too long is withheld, never cut; SANs are joined with "," and a
 * SAN that itself contains "," withholds the header (the list would read differently than it was written). Their
 * names are listed with every other identity header by identity.ts `identityHeaderNames`.
 */
import type { IssuerConfig } from './config.ts';
import { headerValue } from './identity.ts';
import type { CertInfo } from './keys/x5c.ts';

export function certHeaderValues(issuer: IssuerConfig | undefined, cert: CertInfo | undefined, maxBytes: number): [string, string | undefined][] {
  const h = issuer?.identityHeadersFromCert;
  if (!h || !cert) return [];
  const out: [string, string | undefined][] = [];
  if (h.subject !== undefined) out.push([h.subject, headerValue(cert.subject, maxBytes)]);
  if (h.sans !== undefined) out.push([h.sans, cert.sans.some((s) => s.includes(',')) ? undefined : headerValue(cert.sans.join(','), maxBytes)]);
  return out;
}
