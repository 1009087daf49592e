/**
 * `issuers[].x5c` and `issuers[].identity_headers_from_cert` (docs/x5c.md): the schema, and the roots read and
 * checked once at config load (a reload reads them again), so a bad root file stops the start naming its key path
 * and file.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type * as pkijs from 'pkijs';
import { pkijs as loadPkijs } from '../core/keys/pkijs.ts';
import { array, def, object, opt, req, string } from './kit.ts';
import { identityHeaderProblem } from './identity-headers.ts';
import { subjectName } from '../core/keys/cert-names.ts';
import { pemCertificates } from '../core/pem.ts';
import type { X5cRoot } from '../core/keys/x5c-trust.ts';
import type { CertIdentityHeaders, X5cIssuerConfig } from '../core/config.ts';

/** RFC 5280 4.2.1.12 names, as Go's crypto/x509 and Smallstep spell them. */
export const EXTENDED_KEY_USAGES: Readonly<Record<string, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
};

const eku = string((s) => (s in EXTENDED_KEY_USAGES || /^[0-2](\.(0|[1-9]\d*))+$/.test(s) ? null : `"${s}" must be one of ${Object.keys(EXTENDED_KEY_USAGES).join(', ')} or a dotted OID`));

export const x5cSection = object({
  roots: req(array(string((s) => (s === '' ? 'must not be empty' : null)), { min: 1, unique: true }), 'PEM files of the trusted roots (relative to the config file), read at config load'),
  extended_key_usage: def(array(eku, { unique: true }), ['clientAuth'], 'the leaf must list one of these (names or dotted OIDs); [] turns the check off'),
});

export const certIdentitySection = object({
  subject: opt(string(identityHeaderProblem), 'header for the leaf certificate\'s subject'),
  sans: opt(string(identityHeaderProblem), 'header for the leaf certificate\'s subject alternative names'),
});

/** Every certificate of every root file, or a problem naming `at` and the file. */
export function loadRoots(files: readonly string[], at: string, baseDir: string, problems: string[]): X5cRoot[] {
  const roots: X5cRoot[] = [];
  files.forEach((f, n) => {
    const file = resolve(baseDir, f);
    const where = `${at}.roots[${n}]`;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      problems.push(`${where}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return;
    }
    const blocks = pemCertificates(text);
    if (blocks.length === 0) problems.push(`${where}: ${file} holds no PEM CERTIFICATE block`);
    blocks.forEach((der, k) => {
      const label = blocks.length > 1 ? `${file} (certificate ${k + 1})` : file;
      let cert: X509Certificate;
      let subject: string;
      try {
        cert = new X509Certificate(der);
        subject = subjectName(loadPkijs().Certificate.fromBER(der).subject);
      } catch (e) {
        problems.push(`${where}: ${label} is not a valid X.509 certificate: ${(e as Error).message}`);
        return;
      }
      // A root that is not a CA can anchor nothing; configuring a leaf here would be a mistake worth stopping for.
      if (!cert.ca) problems.push(`${where}: ${label} (${subject}) is not a CA certificate (basicConstraints cA is false)`);
      roots.push({ file, der: cert.raw.toString('base64'), subject, sha256: cert.fingerprint256.replace(/:/g, '').toLowerCase() });
    });
  });
  return roots;
}

export interface RawX5cIssuer {
  readonly x5c?: { readonly roots: string[]; readonly extended_key_usage: string[] } | undefined;
  readonly identity_headers_from_cert?: { readonly subject?: string | undefined; readonly sans?: string | undefined } | undefined;
}

/** The x5c part of one issuer's config. `reserved`: header names already taken (identity and token headers). */
export function x5cIssuer(i: RawX5cIssuer, at: string, baseDir: string, reserved: ReadonlySet<string>, problems: string[]): { x5c?: X5cIssuerConfig; identityHeadersFromCert?: CertIdentityHeaders } {
  const out: { x5c?: X5cIssuerConfig; identityHeadersFromCert?: CertIdentityHeaders } = {};
  if (i.x5c) {
    out.x5c = {
      roots: loadRoots(i.x5c.roots, `${at}.x5c`, baseDir, problems),
      extendedKeyUsage: i.x5c.extended_key_usage.map((u) => EXTENDED_KEY_USAGES[u] ?? u),
    };
  }
  const h = i.identity_headers_from_cert;
  if (h) {
    if (!i.x5c) problems.push(`${at}.identity_headers_from_cert: only an x5c issuer has a certificate`);
    const headers: { subject?: string; sans?: string } = {};
    for (const k of ['subject', 'sans'] as const) {
      const name = h[k]?.toLowerCase();
      if (name === undefined) continue;
      if (reserved.has(name)) problems.push(`${at}.identity_headers_from_cert.${k}: "${name}" is already an identity or token header`);
      headers[k] = name;
    }
    if (headers.subject !== undefined && headers.subject === headers.sans) problems.push(`${at}.identity_headers_from_cert: subject and sans use the same header`);
    out.identityHeadersFromCert = headers;
  }
  return out;
}
