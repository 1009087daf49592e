/**
 * `client_certificate` (docs/certificate-bound.md): the schema, and its checks against the other headers. Absent,
 * forward auth and Envoy HTTP mode read no certificate at all (a client could write any header), and gRPC reads only
 * Envoy's source.certificate.
 */
import { boolean, def, object, oneOf, opt, string } from './kit.ts';
import { HEADER_NAME, identityHeaderProblem } from './identity-headers.ts';
import type { ClientCertificateConfig } from '../core/config.ts';

export const clientCertificateSection = object({
  /** Where forward auth and Envoy HTTP mode read it: `header`, the only source today. */
  from: def(oneOf(['header'] as const), 'header', 'where forward auth and Envoy HTTP mode read the client certificate: the header below (the only source today)'),
  header: def(string((s) => (HEADER_NAME.test(s) ? null : `"${s}" is not a valid header name`)), 'client-cert', 'RFC 9440 :base64:, URL-encoded PEM or base64 DER; a header the proxy overwrites from its own TLS state'),
  xfcc: def(boolean, false, 'true: gRPC also reads x-forwarded-client-cert (Hash=/Cert=) from a trusted Envoy, before source.certificate'),
  identity_headers: opt(object({
    subject: opt(string(identityHeaderProblem), 'header for the client certificate\'s subject'),
    sans: opt(string(identityHeaderProblem), 'header for its SANs (DNS, URI, email)'),
    thumbprint: opt(string(identityHeaderProblem), 'header for its SHA-256 thumbprint (base64url)'),
  }), 'headers that carry the request\'s certificate to the upstream'),
});

type Raw = NonNullable<Exclude<ReturnType<typeof clientCertificateSection>, symbol>>;

/** `reserved`: header names already taken (token headers, claim identity headers, x5c certificate headers). */
export function toClientCertificateConfig(raw: Raw, reserved: ReadonlySet<string>, problems: string[]): ClientCertificateConfig {
  const header = raw.header.toLowerCase();
  if (reserved.has(header)) problems.push(`client_certificate.header: "${header}" is already a token or identity header`);
  const identityHeaders: { subject?: string; sans?: string; thumbprint?: string } = {};
  const seen = new Set<string>([header]);
  for (const k of ['subject', 'sans', 'thumbprint'] as const) {
    const name = raw.identity_headers?.[k]?.toLowerCase();
    if (name === undefined) continue;
    if (reserved.has(name)) problems.push(`client_certificate.identity_headers.${k}: "${name}" is already a token or identity header`);
    else if (seen.has(name)) problems.push(`client_certificate.identity_headers.${k}: "${name}" is used twice (with client_certificate.header or another certificate header)`);
    seen.add(name);
    identityHeaders[k] = name;
  }
  return {
    from: raw.from,
    header,
    xfcc: raw.xfcc,
    ...(raw.identity_headers !== undefined ? { identityHeaders } : {}),
  };
}
