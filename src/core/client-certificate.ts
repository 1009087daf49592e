/**
 * The client certificate of the original request, as the transports read it, and what the core derives from it:
 * the RFC 8705 thumbprint (base64url SHA-256 over the DER), and the names identity headers and rules see.
 *
 * Each transport fills `AuthRequest.clientCertificate` in one place, from one source only (docs/certificate-bound.md):
 *   - `envoy`:  the CheckRequest's `attributes.source.certificate`, URL-encoded PEM (Envoy's own TLS state, with
 *               `include_peer_certificate: true`): read by gRPC always;
 *   - `xfcc`:   Envoy's `x-forwarded-client-cert` (its `Hash=` and/or `Cert=`), gRPC with `client_certificate.xfcc`;
 *   - `header`: the one header `client_certificate.header` names, on forward auth and Envoy HTTP mode, in any of
 *               RFC 9440 `:base64-DER:`, nginx's `$ssl_client_escaped_cert` (URL-encoded PEM) and Caddy's
 *               `{http.request.tls.client.certificate_der_base64}` (base64 DER); named x-forwarded-client-cert, it
 *               is read as XFCC (Envoy HTTP mode).
 * The text is kept as received and read only when something asks (a bound token, a certificate identity header, a
 * rule): most requests carry no bound token and pay nothing. A read is remembered per request.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { pemCertificates } from './pem.ts';
import type { HeaderMap } from './types.ts';
import { pkijs } from './keys/pkijs.ts';
import { subjectAltNames, subjectName } from './keys/cert-names.ts';

export type CertificateSource = 'envoy' | 'xfcc' | 'header';

export interface ClientCertificate {
  readonly source: CertificateSource;
  /** The value exactly as received; several values of the header are kept apart (never readable: ambiguous). */
  readonly raw: string | readonly string[];
}

export type CertificateRead =
  | { readonly ok: true; readonly thumbprint: string; readonly der: Buffer | undefined }
  | { readonly ok: false; readonly message: string };

/** What identity headers and rules (`request.certificate`) see of a readable certificate. */
export interface CertificateView {
  /** RFC 4514 subject (cert-names.ts); undefined when only a thumbprint was sent (an XFCC `Hash=` alone). */
  readonly subject: string | undefined;
  /** Every SAN as `DNS:…`, `URI:…`, `email:…`, `IP:…` (cert-names.ts), and the DNS, URI and email ones by kind. */
  readonly sans: readonly string[];
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly email: readonly string[];
  /** base64url SHA-256 of the DER: what `cnf.x5t#S256` names. */
  readonly thumbprint: string;
}

/** Longest value read (characters): a certificate chain of a dozen certificates, URL-encoded, fits well within it. */
export const CERTIFICATE_MAX_CHARS = 32_768;

/** What a header (or XFCC) gave: absent, empty and whitespace-only are no certificate; several values stay apart. */
export function certificateFrom(source: CertificateSource, values: readonly string[] | undefined): ClientCertificate | undefined {
  if (values === undefined) return undefined;
  const present = values.filter((v) => v.trim() !== '');
  if (present.length === 0) return undefined;
  return { source, raw: present.length === 1 ? present[0]! : present };
}

export const XFCC = 'x-forwarded-client-cert';

/**
 * The certificate in header `name` of `headers`: Envoy's x-forwarded-client-cert is read as XFCC (Hash=/Cert=;
 * Envoy HTTP mode with forward_client_cert_details SANITIZE_SET), any other header in the header forms.
 */
export function certificateFromHeader(headers: HeaderMap, name: string): ClientCertificate | undefined {
  return certificateFrom(name === XFCC ? 'xfcc' : 'header', headers.get(name));
}

const reads = new WeakMap<ClientCertificate, CertificateRead>();

/** The certificate's thumbprint (and DER, when sent), or why it cannot be read. Remembered per certificate object. */
export function readCertificate(cert: ClientCertificate): CertificateRead {
  let read = reads.get(cert);
  if (read === undefined) reads.set(cert, (read = readUncached(cert)));
  return read;
}

const fail = (message: string): CertificateRead => ({ ok: false, message });
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const thumbprintOf = (der: Buffer): string => createHash('sha256').update(der).digest('base64url');

function readUncached(cert: ClientCertificate): CertificateRead {
  const what = cert.source === 'envoy' ? 'source.certificate' : cert.source === 'xfcc' ? 'x-forwarded-client-cert' : 'the client certificate header';
  if (typeof cert.raw !== 'string') return fail(`${what} was sent ${cert.raw.length} times`);
  if (cert.raw.length > CERTIFICATE_MAX_CHARS) return fail(`${what} is longer than ${CERTIFICATE_MAX_CHARS} characters`);
  const value = cert.raw.trim();
  if (cert.source === 'xfcc') return readXfcc(value);
  const der = cert.source === 'envoy' ? urlEncodedPem(value) : headerDer(value);
  if (typeof der === 'string') return fail(`${what} ${der}`);
  return certificateDer(der, what);
}

/**
 * The header forms: RFC 9440 `:base64:` (an RFC 8941 byte sequence), URL-encoded PEM (nginx), plain base64 DER
 * (Caddy). Only canonical standard base64 is read, so one certificate has one spelling.
 */
function headerDer(value: string): Buffer | string {
  if (value.startsWith(':')) {
    if (!value.endsWith(':') || value.length < 3) return 'is not an RFC 9440 byte sequence (:base64:)';
    return canonicalBase64(value.slice(1, -1));
  }
  if (value.startsWith('-----BEGIN')) return urlEncodedPem(value);
  return canonicalBase64(value);
}

function canonicalBase64(text: string): Buffer | string {
  const der = Buffer.from(text, 'base64');
  return B64.test(text) && der.toString('base64') === text ? der : 'is not base64 DER, RFC 9440 :base64: or URL-encoded PEM';
}

/** URL-encoded PEM holding exactly one certificate (Envoy's source.certificate and XFCC Cert=, nginx's escaped cert). */
function urlEncodedPem(value: string): Buffer | string {
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch {
    return 'is not URL-encoded PEM (a broken %-escape)';
  }
  const certs = pemCertificates(pem);
  if (certs.length !== 1) return `holds ${certs.length} PEM certificates; exactly one is read`;
  return certs[0]!;
}

/** Strict DER X.509 (OpenSSL re-encodes it to the same bytes), else why not. */
function certificateDer(der: Buffer, what: string): CertificateRead {
  try {
    if (!new X509Certificate(der).raw.equals(der)) return fail(`${what} is not a DER X.509 certificate`);
  } catch {
    return fail(`${what} is not a DER X.509 certificate`);
  }
  return { ok: true, thumbprint: thumbprintOf(der), der };
}

/**
 * Envoy's x-forwarded-client-cert: `Hash=<hex SHA-256>;Cert="<URL-encoded PEM>";…`. Exactly one element is read —
 * the one the trusted Envoy in front wrote (forward_client_cert_details SANITIZE_SET); several elements (APPEND_FORWARD
 * chains) cannot say which proxy wrote which, and are refused. With both Hash and Cert, they must agree.
 */
function readXfcc(value: string): CertificateRead {
  const elements = splitQuoted(value, ',');
  if (elements === null) return fail('x-forwarded-client-cert has an unterminated quoted value');
  if (elements.length !== 1) return fail(`x-forwarded-client-cert holds ${elements.length} elements; exactly one (from the Envoy in front) is read`);
  const fields = new Map<string, string>();
  for (const pair of splitQuoted(elements[0]!, ';') ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return fail('x-forwarded-client-cert is not a list of key=value pairs');
    const key = pair.slice(0, eq).trim().toLowerCase();
    if (fields.has(key)) return fail(`x-forwarded-client-cert repeats ${key}`);
    fields.set(key, unquote(pair.slice(eq + 1).trim()));
  }
  const hash = fields.get('hash');
  const pem = fields.get('cert');
  if (hash !== undefined && !/^[0-9a-fA-F]{64}$/.test(hash)) return fail('x-forwarded-client-cert Hash is not a hex SHA-256');
  const hashThumbprint = hash === undefined ? undefined : Buffer.from(hash, 'hex').toString('base64url');
  if (pem === undefined) {
    return hashThumbprint === undefined ? fail('x-forwarded-client-cert has neither Hash nor Cert') : { ok: true, thumbprint: hashThumbprint, der: undefined };
  }
  const der = urlEncodedPem(pem);
  if (typeof der === 'string') return fail(`x-forwarded-client-cert Cert ${der}`);
  const read = certificateDer(der, 'x-forwarded-client-cert Cert');
  if (read.ok && hashThumbprint !== undefined && hashThumbprint !== read.thumbprint) return fail('x-forwarded-client-cert Hash is not the SHA-256 of its Cert');
  return read;
}

/** Splits at `sep` outside double quotes (a backslash escapes inside them); null when a quote is left open. */
function splitQuoted(text: string, sep: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === sep) (out.push(text.slice(start, i)), (start = i + 1));
  }
  if (quoted) return null;
  out.push(text.slice(start));
  return out;
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}

const views = new WeakMap<ClientCertificate, CertificateView | null>();

/**
 * Subject, SANs and thumbprint of a readable certificate (identity headers, rules); undefined when there is none or
 * it cannot be read. Names come from PKI.js (loaded on first use), as for x5c leaves.
 */
export function certificateView(cert: ClientCertificate | undefined): CertificateView | undefined {
  if (cert === undefined) return undefined;
  let view = views.get(cert);
  if (view === undefined) views.set(cert, (view = viewOf(readCertificate(cert))));
  return view ?? undefined;
}

function viewOf(read: CertificateRead): CertificateView | null {
  if (!read.ok) return null;
  let subject: string | undefined;
  let sans: string[] = [];
  if (read.der !== undefined) {
    try {
      const parsed = pkijs().Certificate.fromBER(read.der);
      subject = subjectName(parsed.subject);
      sans = subjectAltNames(parsed);
    } catch {
      return null;
    }
  }
  const kind = (prefix: string) => sans.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
  return Object.freeze({ subject, sans, dns: kind('DNS:'), uri: kind('URI:'), email: kind('email:'), thumbprint: read.thumbprint });
}
