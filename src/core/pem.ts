/**
 * PEM CERTIFICATE blocks → DER, in one place: configured root files (config/x5c.ts) and the URL-encoded PEM that
 * proxies send for a client certificate (core/client-certificate.ts) are read by the same rule.
 */
const PEM = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** The DER of every CERTIFICATE block in `text`, in order; [] when there is none. */
export function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(PEM)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
