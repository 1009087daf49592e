/**
 * The physical floor, in-process, in its own child (`node bench/micro.ts INPUT_JSON_FILE`), printing one JSON line:
 * per algorithm,
 *   raw     node:crypto `verify` on pre-split, pre-decoded signing input and signature (nothing but the signature math),
 *   jose    jose `jwtVerify` (CryptoKey from the JWKS, issuer/audience/algorithms checked), one at a time, awaited,
 *   jose64  jose `jwtVerify` with 64 in flight: WebCrypto runs verifications as async jobs on libuv's threadpool, so
 *           this can use more than one core; reported with the cores it used.
 *   subtle64 WebCrypto `subtle.verify` alone, 64 in flight, on pre-split input: the primitive Portcullis calls
 *           (src/core/signature.ts) without jose's decoding around it.
 * Each over distinct tokens, cycling, for a fixed time.
 */
import { createPublicKey, verify, type KeyObject, type webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { importJWK, jwtVerify, type JWK } from 'jose';

export interface MicroInput {
  readonly seconds: number;
  readonly issuer: string;
  readonly audience: string;
  readonly algs: Record<string, { readonly jwk: JWK; readonly tokens: readonly string[] }>;
}
export interface MicroResult {
  readonly alg: string;
  readonly rawUs: number;
  readonly joseUs: number;
  readonly jose64PerS: number;
  readonly jose64Cores: number;
  readonly subtle64PerS: number;
  readonly subtle64Cores: number;
}

/** n operations with 64 in flight for `ms`: per second and cores used. */
async function inFlight64(ms: number, one: (i: number) => Promise<unknown>): Promise<{ perS: number; cores: number }> {
  let n = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (performance.now() < end) await one(n++);
  }));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { perS: (n / wall) * 1000, cores: (cpu.user + cpu.system) / 1000 / wall };
}

const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as MicroInput;
const results: MicroResult[] = [];

for (const [alg, { jwk, tokens }] of Object.entries(input.algs)) {
  const publicKey: KeyObject = createPublicKey({ key: jwk as never, format: 'jwk' });
  const digest = alg === 'EdDSA' ? null : 'sha256';
  const keyArg = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  const split = tokens.map((t) => {
    const dot = t.lastIndexOf('.');
    return { data: Buffer.from(t.slice(0, dot)), sig: Buffer.from(t.slice(dot + 1), 'base64url') };
  });
  const ms = input.seconds * 1000;

  // raw node:crypto
  for (let i = 0; i < 200; i++) verify(digest, split[i % split.length]!.data, keyArg, split[i % split.length]!.sig);
  let n = 0;
  let t0 = performance.now();
  let bad = 0;
  while (performance.now() - t0 < ms) {
    for (let k = 0; k < 50; k++, n++) {
      const s = split[n % split.length]!;
      if (!verify(digest, s.data, keyArg, s.sig)) bad++;
    }
  }
  const rawUs = ((performance.now() - t0) * 1000) / n;
  if (bad > 0) throw new Error(`${alg}: ${bad} raw verifications failed`);

  // jose, sequential
  const key = await importJWK(jwk, alg);
  const options = { issuer: input.issuer, audience: input.audience, algorithms: [alg] };
  for (let i = 0; i < 200; i++) await jwtVerify(tokens[i % tokens.length]!, key, options);
  n = 0;
  t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await jwtVerify(tokens[n % tokens.length]!, key, options);
    n++;
  }
  const joseUs = ((performance.now() - t0) * 1000) / n;

  // jose, 64 in flight
  const jose64 = await inFlight64(ms, (i) => jwtVerify(tokens[i % tokens.length]!, key, options));

  // WebCrypto alone, 64 in flight
  const subtleAlg = alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5' } : alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
  const cryptoKey = key as unknown as webcrypto.CryptoKey;
  const subtle64 = await inFlight64(ms, async (i) => {
    const s = split[i % split.length]!;
    if (!(await crypto.subtle.verify(subtleAlg, cryptoKey, s.sig, s.data))) throw new Error(`${alg}: a WebCrypto verification failed`);
  });
  results.push({ alg, rawUs, joseUs, jose64PerS: jose64.perS, jose64Cores: jose64.cores, subtle64PerS: subtle64.perS, subtle64Cores: subtle64.cores });
}

process.stdout.write(`${JSON.stringify(results)}\n`);
