/**
 * Client certificates for certificate-bound tokens (RFC 8705), made by openssl (pki.ts), and every spelling in which
 * a proxy hands one over: RFC 9440 `:base64-DER:`, URL-encoded PEM (nginx $ssl_client_escaped_cert, Envoy's
 * source.certificate and XFCC Cert=), Caddy's base64 DER, and XFCC.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { LEAF_EXT, TestPki, type IssuedCert } from './pki.ts';

/** base64url SHA-256 over the DER: what `cnf.x5t#S256` holds. Written here apart from src/core. */
export const x5tS256 = (cert: IssuedCert): string => createHash('sha256').update(new X509Certificate(cert.pem).raw).digest('base64url');

/** RFC 9440 Client-Cert: an RFC 8941 byte sequence. */
export const rfc9440 = (cert: IssuedCert): string => `:${cert.x5c}:`;

/** URL-encoded PEM, every reserved character escaped (nginx $ssl_client_escaped_cert escapes + / = too). */
export const escapedPem = (cert: IssuedCert): string => encodeURIComponent(cert.pem);

/** URL-encoded PEM as Envoy writes source.certificate and XFCC Cert=: spaces and newlines escaped, the rest as is. */
export const envoyPem = (cert: IssuedCert): string => cert.pem.replace(/ /g, '%20').replace(/\n/g, '%0A');

/** Caddy's {http.request.tls.client.certificate_der_base64}. */
export const derBase64 = (cert: IssuedCert): string => cert.x5c;

export const sha256Hex = (cert: IssuedCert): string => createHash('sha256').update(new X509Certificate(cert.pem).raw).digest('hex');

export interface ClientPki {
  readonly pki: TestPki;
  readonly ca: IssuedCert;
  /** Client certificate with DNS, URI (SPIFFE) and email SANs. */
  readonly alice: IssuedCert;
  /** Another client of the same CA. */
  readonly mallory: IssuedCert;
}

export const ALICE_SANS = ['DNS:alice.example.test', 'URI:spiffe://example.test/ns/app/sa/alice', 'email:alice@example.test'];

export function clientPki(now = Date.now()): ClientPki {
  const pki = new TestPki(now);
  const ca = pki.ca('client-ca');
  const alice = pki.leaf('alice', ca, { ext: [...LEAF_EXT, 'subjectAltName = DNS:alice.example.test, URI:spiffe://example.test/ns/app/sa/alice, email:alice@example.test'] });
  const mallory = pki.leaf('mallory', ca);
  return { pki, ca, alice, mallory };
}
