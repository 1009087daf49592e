/**
 * An `x5c` header → the leaf's public key, or the reason it may not be used. Nothing from the token is trusted:
 * the anchors come only from the issuer's configured roots.
 *
 * Order: bounds and encoding (x5c_malformed) → a path from the leaf through any of the supplied certificates to an
 * anchor, with the signatures along it, built and checked by PKI.js's CertificateChainValidationEngine
 * (x5c_untrusted) → validity of every certificate on the path at `now` ± leeway (x5c_expired) → what the engine
 * does not check: keyCertSign on every issuer, path length constraints, unknown critical extensions, extended key
 * usage of the intermediates (x5c_untrusted) → the leaf: not a CA, digitalSignature, the configured extended key
 * usage (x5c_usage). The caller then verifies the JWS with the key and checks the claims.
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import type * as pkijs from 'pkijs';
import { pkijs as loadPkijs } from './pkijs.ts';
import { Reasons } from '../reasons.ts';
import type { KeyEntry } from './keyset.ts';
import { subjectAltNames, subjectName } from './cert-names.ts';

export const X5C_MAX_CERTS = 8;
/** Characters of base64 over all entries (RFC 7515 4.1.6 entries are base64 of DER, so this bounds the DER too). */
export const X5C_MAX_CHARS = 16_384;
/** Path building visits at most this many certificates: cross-signed loops and fan-out cannot make it run away. */
const MAX_ISSUER_LOOKUPS = 32;

export type X5cReason = typeof Reasons.x5cUntrusted | typeof Reasons.x5cExpired | typeof Reasons.x5cUsage | typeof Reasons.x5cMalformed;

/** What the verified chain says about the token's signer (explain, identity headers, the token cache). */
export interface CertInfo {
  readonly subject: string;
  readonly sans: readonly string[];
  /** Subjects along the path, leaf first, anchor last. */
  readonly path: readonly string[];
  /** The window in which every certificate of the path is valid (latest notBefore, earliest notAfter), ms. */
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface LeafKey extends KeyEntry {
  readonly cert: CertInfo;
}

export type ChainResult =
  | { readonly ok: true; readonly key: LeafKey }
  | { readonly ok: false; readonly reason: X5cReason; readonly message: string };

export interface ChainPolicy {
  readonly anchors: readonly pkijs.Certificate[];
  /** OIDs; the leaf must list one of them. Empty = not checked. */
  readonly extendedKeyUsage: readonly string[];
  readonly leewayMs: number;
}

type Failure = Extract<ChainResult, { ok: false }>;
const fail = (reason: X5cReason, message: string): Failure => ({ ok: false, reason, message });
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The header value → DER certificates (leaf first), or why not. Only the exact standard base64 spelling is read. */
export function decodeX5c(x5c: unknown): { readonly ok: true; readonly ders: readonly Buffer[] } | { readonly ok: false; readonly message: string } {
  if (!Array.isArray(x5c) || x5c.length === 0) return { ok: false, message: '"x5c" must be a non-empty array of base64 DER certificates' };
  if (x5c.length > X5C_MAX_CERTS) return { ok: false, message: `"x5c" has ${x5c.length} certificates; at most ${X5C_MAX_CERTS} are accepted` };
  let chars = 0;
  const ders: Buffer[] = [];
  for (const [i, entry] of x5c.entries()) {
    if (typeof entry !== 'string' || entry === '') return { ok: false, message: `x5c[${i}] is not a base64 string` };
    chars += entry.length;
    if (chars > X5C_MAX_CHARS) return { ok: false, message: `"x5c" exceeds ${X5C_MAX_CHARS} characters` };
    if (/[-_]/.test(entry)) return { ok: false, message: `x5c[${i}] is base64url; RFC 7515 4.1.6 requires standard base64` };
    const der = Buffer.from(entry, 'base64');
    if (!B64.test(entry) || der.toString('base64') !== entry) return { ok: false, message: `x5c[${i}] is not canonical standard base64` };
    ders.push(der);
  }
  return { ok: true, ders };
}

interface Parsed {
  readonly der: Buffer;
  readonly node: X509Certificate;
  readonly pki: pkijs.Certificate;
}

/** Both parsers must accept the exact bytes: OpenSSL (strict DER, re-encodes to the same bytes) and PKI.js. */
export function parseCertificate(der: Buffer): Parsed | null {
  try {
    const node = new X509Certificate(der);
    if (!node.raw.equals(der)) return null;
    return { der, node, pki: loadPkijs().Certificate.fromBER(der) };
  } catch {
    return null;
  }
}

const ext = (c: pkijs.Certificate, oid: string) => c.extensions?.find((e) => e.extnID === oid);
const basicConstraints = (c: pkijs.Certificate) => ext(c, '2.5.29.19')?.parsedValue as pkijs.BasicConstraints | undefined;
const isCa = (c: pkijs.Certificate) => basicConstraints(c)?.cA === true;
/** Key usage bits of the first byte (digitalSignature 0x80 … keyCertSign 0x04), or null without the extension. */
function keyUsage(c: pkijs.Certificate): number | null {
  const bits = ext(c, '2.5.29.15')?.parsedValue as { valueBlock: { valueHexView: Uint8Array } } | undefined;
  return bits ? (bits.valueBlock.valueHexView[0] ?? 0) : null;
}
const extKeyUsage = (c: pkijs.Certificate) => (ext(c, '2.5.29.37')?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes;
const DIGITAL_SIGNATURE = 0x80;
const KEY_CERT_SIGN = 0x04;
const ANY_EKU = '2.5.29.37.0';
/** Extensions whose meaning is enforced by the engine or here; any other critical extension refuses the chain. */
const UNDERSTOOD = new Set(['2.5.29.14', '2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.30', '2.5.29.32', '2.5.29.33', '2.5.29.35', '2.5.29.36', '2.5.29.37', '2.5.29.54']);

const selfIssued = (c: pkijs.Certificate) => c.subject.isEqual(c.issuer);
const iso = (ms: number) => new Date(ms).toISOString();

export async function validateChain(ders: readonly Buffer[], policy: ChainPolicy, now: number): Promise<ChainResult> {
  const parsed: Parsed[] = [];
  for (const [i, der] of ders.entries()) {
    const p = parseCertificate(der);
    if (!p) return fail(Reasons.x5cMalformed, `x5c[${i}] is not a DER X.509 certificate`);
    parsed.push(p);
  }
  const leaf = parsed[0]!;
  // Extra certificates are allowed (the path need not use them); duplicates and copies of the leaf are dropped, and the
  // leaf goes last because that is where the engine takes it from.
  const seen = new Set([leaf.node.fingerprint256]);
  const intermediates = parsed.slice(1).filter((p) => !seen.has(p.node.fingerprint256) && seen.add(p.node.fingerprint256));

  const path = await buildPath(leaf, intermediates, policy, now);
  if (!path.ok) return path;
  const chain = path.chain;

  // Validity, each certificate at now ± leeway (the engine already found a path valid at some moment of that span).
  const leeway = policy.leewayMs;
  for (const [i, c] of chain.entries()) {
    const role = i === 0 ? 'leaf' : i === chain.length - 1 ? 'root' : 'intermediate';
    const nb = c.notBefore.value.getTime();
    const na = c.notAfter.value.getTime();
    if (now + leeway < nb) return fail(Reasons.x5cExpired, `${role} ${subjectName(c.subject)} is not valid before ${iso(nb)}`);
    if (now - leeway > na) return fail(Reasons.x5cExpired, `${role} ${subjectName(c.subject)} expired at ${iso(na)}`);
  }

  const broken = issuerProblem(chain, policy);
  if (broken) return fail(Reasons.x5cUntrusted, broken);

  const l = chain[0]!;
  const leafName = subjectName(l.subject);
  if (isCa(l)) return fail(Reasons.x5cUsage, `leaf ${leafName} is a CA certificate; tokens must be signed by an end-entity certificate`);
  if (((keyUsage(l) ?? 0) & DIGITAL_SIGNATURE) === 0) return fail(Reasons.x5cUsage, `leaf ${leafName} lacks the digitalSignature key usage`);
  if (policy.extendedKeyUsage.length > 0) {
    const ekus = extKeyUsage(l) ?? [];
    if (!policy.extendedKeyUsage.some((u) => ekus.includes(u))) {
      return fail(Reasons.x5cUsage, `leaf ${leafName} has extended key usage [${ekus.join(', ')}], needs one of [${policy.extendedKeyUsage.join(', ')}]`);
    }
  }

  const key = leafKey(leaf.node.publicKey);
  if (!key) return fail(Reasons.x5cUsage, `leaf ${leafName} holds a ${leaf.node.publicKey.asymmetricKeyType} key, which cannot verify JWS signatures here`);
  const cert: CertInfo = {
    subject: leafName,
    sans: subjectAltNames(l),
    path: chain.map((c) => subjectName(c.subject)),
    notBefore: Math.max(...chain.map((c) => c.notBefore.value.getTime())),
    notAfter: Math.min(...chain.map((c) => c.notAfter.value.getTime())),
  };
  return { ok: true, key: { ...key, kid: undefined, alg: undefined, cert } };
}

/** The engine's path (leaf first, anchor last), tried at now and, only when dates failed, at now ± leeway. */
async function buildPath(leaf: Parsed, intermediates: readonly Parsed[], policy: ChainPolicy, now: number): Promise<{ ok: true; chain: pkijs.Certificate[] } | Failure> {
  let last = { resultCode: 0 as number | undefined, resultMessage: '' as string | undefined };
  for (const at of [now, now - policy.leewayMs, now + policy.leewayMs]) {
    let lookups = 0;
    const engine = new (loadPkijs().CertificateChainValidationEngine)({
      trustedCerts: [...policy.anchors],
      // Fresh objects each run: the engine caches encodings on them.
      certs: [...intermediates.map((p) => loadPkijs().Certificate.fromBER(p.der)), loadPkijs().Certificate.fromBER(leaf.der)],
      checkDate: new Date(at),
      findIssuer: (cert, eng, crypto) => {
        if (++lookups > MAX_ISSUER_LOOKUPS) throw new Error('path building took too many steps');
        return eng.defaultFindIssuer(cert, eng, crypto);
      },
    });
    let r: pkijs.CertificateChainValidationEngineVerifyResult;
    try {
      r = await engine.verify();
    } catch (e) {
      r = { result: false, resultCode: -1, resultMessage: (e as Error).message };
    }
    if (r.result && r.certificatePath) {
      const chain = r.certificatePath;
      // The engine takes its leaf from its own list; it must be ours.
      if (!Buffer.from(chain[0]!.toSchema().toBER()).equals(leaf.der)) return fail(Reasons.x5cUntrusted, 'no certificate path from the x5c leaf to a configured root');
      return { ok: true, chain };
    }
    last = { resultCode: r.resultCode, resultMessage: r.resultMessage };
    if (r.resultCode !== 8) break; // only a date problem is worth another try
  }
  if (last.resultCode === 8) {
    const nb = leaf.pki.notBefore.value.getTime();
    const na = leaf.pki.notAfter.value.getTime();
    const name = subjectName(leaf.pki.subject);
    if (now - policy.leewayMs > na) return fail(Reasons.x5cExpired, `leaf ${name} expired at ${iso(na)}`);
    if (now + policy.leewayMs < nb) return fail(Reasons.x5cExpired, `leaf ${name} is not valid before ${iso(nb)}`);
    return fail(Reasons.x5cExpired, 'a CA certificate on the path is expired or not yet valid');
  }
  return fail(Reasons.x5cUntrusted, `no certificate path from the x5c leaf to a configured root (${last.resultMessage ?? 'unknown'})`);
}

/** What CertificateChainValidationEngine does not check about the issuers (RFC 5280 6.1.4). */
function issuerProblem(chain: readonly pkijs.Certificate[], policy: ChainPolicy): string | null {
  for (const [i, c] of chain.entries()) {
    const name = subjectName(c.subject);
    const critical = c.extensions?.find((e) => e.critical && !UNDERSTOOD.has(e.extnID));
    if (critical) return `${name} has an unsupported critical extension ${critical.extnID}`;
    if (i === 0) continue;
    const anchor = i === chain.length - 1;
    if (!isCa(c)) return `${name} signs certificates but is not a CA (basicConstraints cA is false)`;
    const usage = keyUsage(c);
    // The anchor is trusted as configured (RFC 5280 6.1.1); a key usage it does carry must still allow signing certificates.
    if ((usage === null && !anchor) || (usage !== null && (usage & KEY_CERT_SIGN) === 0)) return `${name} lacks the keyCertSign key usage`;
    const max = basicConstraints(c)?.pathLenConstraint;
    if (typeof max === 'number') {
      const below = chain.slice(1, i).filter((x) => !selfIssued(x)).length;
      if (below > max) return `${name} allows ${max} intermediate${max === 1 ? '' : 's'} below it (pathLenConstraint), the path has ${below}`;
    }
    const ekus = extKeyUsage(c);
    if (ekus && policy.extendedKeyUsage.length > 0 && !ekus.includes(ANY_EKU) && !policy.extendedKeyUsage.some((u) => ekus.includes(u))) {
      return `${name} restricts extended key usage to [${ekus.join(', ')}]`;
    }
  }
  return null;
}

function leafKey(key: KeyObject): Omit<KeyEntry, 'kid' | 'alg'> | null {
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec' && type !== 'ed25519') return null;
  let jwk: Record<string, string>;
  try {
    jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  } catch {
    return null;
  }
  if (type === 'rsa') return { kty: 'RSA', crv: undefined, key, publicJwk: { kty: 'RSA', n: jwk.n!, e: jwk.e! } };
  if (type === 'ec') return { kty: 'EC', crv: jwk.crv, key, publicJwk: { kty: 'EC', crv: jwk.crv!, x: jwk.x!, y: jwk.y! } };
  return { kty: 'OKP', crv: 'Ed25519', key, publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x! } };
}

/** SHA-256 over the certificates in order: the chain cache's key. */
export function chainFingerprint(ders: readonly Buffer[]): string {
  const h = createHash('sha256');
  for (const der of ders) h.update(createHash('sha256').update(der).digest());
  return h.digest('base64url');
}
