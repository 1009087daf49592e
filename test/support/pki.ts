/**
 * Real X.509 hierarchies made at test time by Debian's `openssl` (3.0) in a temp dir: keys, CSRs and certificates
 * issued with `openssl ca`, which (unlike `openssl x509 -req` in 3.0) sets exact validity dates, so expired and
 * not-yet-valid leaves sit under roots that are valid. Extensions are written out per certificate, so each test
 * case names exactly the flaw it has (no CA flag, pathlen 0, no digitalSignature, serverAuth only, …).
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyKind = 'ec' | 'rsa' | 'ed25519';

export interface IssuedCert {
  readonly name: string;
  /** PEM file of the certificate. */
  readonly pemFile: string;
  readonly pem: string;
  /** Standard base64 DER, as an `x5c` entry carries it (RFC 7515 4.1.6). */
  readonly x5c: string;
  readonly keyFile: string;
  readonly privateKey: KeyObject;
  readonly keyKind: KeyKind;
}

export interface IssueOptions {
  readonly key?: KeyKind;
  /** Signed by this certificate's key; absent = self-signed. */
  readonly issuer?: IssuedCert;
  /** openssl extension lines, e.g. `basicConstraints = critical, CA:true`. */
  readonly ext: readonly string[];
  /** Validity, in ms since the epoch. Default: from one day before `now` to 30 days after. */
  readonly notBefore?: number;
  readonly notAfter?: number;
}

export const CA_EXT = ['basicConstraints = critical, CA:true', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'];
export const LEAF_EXT = ['basicConstraints = critical, CA:false', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = clientAuth', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'];

const DAY = 86_400_000;

/** `YYYYMMDDHHMMSSZ` for `openssl ca -startdate/-enddate`. */
function asn1Time(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

export class TestPki {
  readonly dir: string;
  readonly now: number;
  #serial = 1;

  constructor(now: number) {
    this.now = now;
    this.dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
    mkdirSync(join(this.dir, 'new'));
    writeFileSync(join(this.dir, 'index.txt'), '');
  }

  #openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  issue(name: string, opts: IssueOptions): IssuedCert {
    const kind = opts.key ?? 'ec';
    const keyFile = join(this.dir, `${name}.key`);
    const keyArgs = kind === 'ec' ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] : kind === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'ED25519'];
    this.#openssl(['genpkey', ...keyArgs, '-out', keyFile]);
    const csr = join(this.dir, `${name}.csr`);
    this.#openssl(['req', '-new', '-key', keyFile, '-subj', `/O=Portcullis Test/CN=${name}`, '-out', csr]);
    const extFile = join(this.dir, `${name}.ext`);
    writeFileSync(extFile, `[ext]\n${opts.ext.join('\n')}\n`);
    const cnf = join(this.dir, 'ca.cnf');
    writeFileSync(cnf, [
      '[ca]', 'default_ca = d', '[d]', `database = ${join(this.dir, 'index.txt')}`, `new_certs_dir = ${join(this.dir, 'new')}`,
      `serial = ${join(this.dir, 'serial')}`, 'policy = p', 'unique_subject = no', 'email_in_dn = no', 'default_md = sha256', '[p]', 'organizationName = optional', 'commonName = supplied',
    ].join('\n'));
    writeFileSync(join(this.dir, 'serial'), `${(this.#serial++).toString(16).padStart(4, '0')}\n`);
    const pemFile = join(this.dir, `${name}.pem`);
    const signer = opts.issuer ? ['-cert', opts.issuer.pemFile, '-keyfile', opts.issuer.keyFile] : ['-selfsign', '-keyfile', keyFile];
    const md = (opts.issuer?.keyKind ?? kind) === 'ed25519' ? [] : ['-md', 'sha256'];
    this.#openssl([
      'ca', '-batch', '-config', cnf, ...signer, ...md, '-in', csr, '-out', pemFile, '-notext', '-extfile', extFile, '-extensions', 'ext',
      '-startdate', asn1Time(opts.notBefore ?? this.now - DAY), '-enddate', asn1Time(opts.notAfter ?? this.now + 30 * DAY),
    ]);
    const pem = readFileSync(pemFile, 'utf8');
    const x5c = new X509Certificate(pem).raw.toString('base64');
    return { name, pemFile, pem, x5c, keyFile, privateKey: createPrivateKey(readFileSync(keyFile)), keyKind: kind };
  }

  /** A CA certificate (root when `issuer` is absent). */
  ca(name: string, issuer?: IssuedCert, ext: readonly string[] = CA_EXT): IssuedCert {
    return this.issue(name, { ext, ...(issuer ? { issuer } : {}) });
  }

  leaf(name: string, issuer: IssuedCert, opts: Partial<IssueOptions> = {}): IssuedCert {
    return this.issue(name, { ext: LEAF_EXT, issuer, ...opts });
  }

  /** Writes several PEMs into one bundle file (roots lists). */
  bundle(name: string, ...certs: IssuedCert[]): string {
    const file = join(this.dir, `${name}.bundle.pem`);
    writeFileSync(file, certs.map((c) => c.pem).join(''));
    return file;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
