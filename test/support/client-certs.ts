/**
 * Client certificates for certificate-bound tokens (RFC 8705), made by openssl (pki.ts), and every spelling in which
 * a proxy hands one over: RFC 9440 `:base64-DER:`, URL-encoded PEM (nginx $ssl_client_escaped_cert, Envoy's
 * source.certificate and XFCC Cert=), Caddy's base64 DER, and XFCC.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
  /** A server certificate of the same CA for 127.0.0.1 and localhost (the proxies' and the IdP's TLS). */
  readonly server: IssuedCert;
}

/**
 * `send` options for mutual TLS as `cert` (none: a TLS client without a certificate), trusting the test CA, with SNI
 * `localhost` (Caddy refuses a request whose Host differs from its SNI where client authentication is on: 421).
 */
export function mtls(c: ClientPki, cert?: IssuedCert): { ca: string; cert?: string; key?: string; servername: string } {
  return { ca: c.ca.pem, servername: 'localhost', ...(cert ? { cert: cert.pem, key: readFileSync(cert.keyFile, 'utf8') } : {}) };
}

export const ALICE_SANS = ['DNS:alice.example.test', 'URI:spiffe://example.test/ns/app/sa/alice', 'email:alice@example.test'];

export function clientPki(now = Date.now()): ClientPki {
  const pki = new TestPki(now);
  const ca = pki.ca('client-ca');
  const alice = pki.leaf('alice', ca, { ext: [...LEAF_EXT, 'subjectAltName = DNS:alice.example.test, URI:spiffe://example.test/ns/app/sa/alice, email:alice@example.test'] });
  const mallory = pki.leaf('mallory', ca);
  const server = pki.issue('server', { issuer: ca, ext: ['basicConstraints = critical, CA:false', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = serverAuth', 'subjectAltName = IP:127.0.0.1, DNS:localhost'] });
  return { pki, ca, alice, mallory, server };
}
