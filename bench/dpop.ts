/**
 * `node bench/dpop.ts [--duration S] [--rounds N] [--inflight N] [--json]` — what a DPoP request with a cached token costs,
 * against the bare WebCrypto verification of the same proofs (the floor: `crypto.subtle.verify` with the client's key
 * imported once, nothing else). Issue 21's target: the DPoP request ≥ 0.85 × the floor.
 *
 * In-process, one core (config → createCore, as the server builds it), ES256 client key, memory replay store, a
 * fixed clock. The token is DPoP-bound (cnf.jkt) and warmed into the verified-token cache first; every request then
 * carries a fresh proof (distinct jti, so none is a replay) through `authorizer.check`, `--inflight` at a time. The
 * floor verifies the very same proofs' signatures the same way. Order alternates per round. Figures are only
 * meaningful on a quiet machine. `--json` ends the output with one JSON line, `{ rounds: [{ target, floor }] }` (per
 * second), which the `dpop` scenario of `npm run bench` reads (bench/scenarios/dpop.ts).
 */
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { parseArgs } from 'node:util';
import { buildConfig } from '../src/config/load.ts';
import { createCore } from '../src/app.ts';
import type { AuthRequest } from '../src/core/types.ts';

const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, inflight: { type: 'string' }, json: { type: 'boolean' } } });
const duration = Number(values.duration ?? 6);
const rounds = Number(values.rounds ?? 2);
const inflight = Number(values.inflight ?? 64);

const NOW_S = 1_800_000_000;
const ISSUER = 'https://idp.bench/';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const es256 = (key: Parameters<typeof sign>[2], input: string) => sign('sha256', Buffer.from(input), { key: key as never, dsaEncoding: 'ieee-p1363' }).toString('base64url');

const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const client = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const issuerJwk = { ...issuer.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
const { kty, crv, x, y } = client.publicKey.export({ format: 'jwk' }) as Record<string, string>;
const clientJwk = { kty: kty!, crv: crv!, x: x!, y: y! };
const jkt = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');

const tokenInput = `${b64({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })}.${b64({ iss: ISSUER, aud: 'api.bench', sub: 'bench', iat: NOW_S - 10, exp: NOW_S + 3600, cnf: { jkt } })}`;
const token = `${tokenInput}.${es256(issuer.privateKey, tokenInput)}`;
const ath = createHash('sha256').update(token).digest('base64url');

const config = buildConfig({ issuers: [{ issuer: ISSUER, audiences: ['api.bench'], jwks: { keys: [issuerJwk] } }], workers: 1, dpop: {}, cache: { negative_ttl: '0s' } }, 'bench/dpop.ts', process.cwd());
const core = createCore(config, { fetch: () => Promise.reject(new Error('no network')), now: () => NOW_S * 1000 });
await core.start();

function proofs(n: number): string[] {
  const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: clientJwk });
  return Array.from({ length: n }, () => {
    const input = `${header}.${b64({ jti: randomUUID(), htm: 'GET', htu: 'https://api.bench/orders', iat: NOW_S, ath })}`;
    return `${input}.${es256(client.privateKey, input)}`;
  });
}
const request = (proof: string): AuthRequest => ({
  transport: 'grpc', method: 'GET', host: 'api.bench', scheme: 'https', path: '/orders', contextExtensions: new Map(),
  headers: new Map([['authorization', [`DPoP ${token}`]], ['dpop', [proof]]]),
});

// Warm: the cache admits a token on its second verification.
for (const p of proofs(3)) {
  const d = await core.authorizer.check(request(p));
  if (d.kind !== 'allow') throw new Error(`warm-up was refused: ${d.reason} ${d.message}`);
}

const floorKey = await crypto.subtle.importKey('jwk', clientJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
const floorVerify = async (proof: string): Promise<void> => {
  const dot = proof.lastIndexOf('.');
  const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, floorKey, Buffer.from(proof.slice(dot + 1), 'base64url'), Buffer.from(proof.slice(0, dot), 'latin1'));
  if (!ok) throw new Error('floor: a proof did not verify');
};
const targetCheck = async (proof: string): Promise<void> => {
  const d = await core.authorizer.check(request(proof));
  if (d.kind !== 'allow') throw new Error(`a proof was refused: ${d.reason} ${d.message}`);
};

/** Requests per second over `duration` seconds (or until the proofs run out), `inflight` at a time. */
async function measure(pool: readonly string[], one: (proof: string) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  const deadline = start + duration * 1000;
  const lane = async () => {
    while (next < pool.length && performance.now() < deadline) await one(pool[next++]!);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return next / ((performance.now() - start) / 1000);
}

const perRun = Math.max(5000, Math.ceil(duration * 40_000));
const ratios: number[] = [];
const perRound: { target: number; floor: number }[] = [];
for (let r = 0; r < rounds; r++) {
  const pool = proofs(perRun);
  const order = r % 2 === 0 ? (['target', 'floor'] as const) : (['floor', 'target'] as const);
  const rate: Record<string, number> = {};
  for (const which of order) rate[which] = await measure(pool, which === 'target' ? targetCheck : floorVerify);
  ratios.push(rate.target! / rate.floor!);
  perRound.push({ target: rate.target!, floor: rate.floor! });
  console.log(`round ${r + 1}: DPoP request with a cached token ${Math.round(rate.target!)}/s, bare WebCrypto verification ${Math.round(rate.floor!)}/s, ratio ${rate.target! / rate.floor!}`);
}
ratios.sort((a, b) => a - b);
const median = ratios[Math.floor(ratios.length / 2)]!;
console.log(`| DPoP request with a cached token vs bare WebCrypto proof verification | ${median.toFixed(2)} | target ≥ 0.85 | ${median >= 0.85 ? 'met' : 'NOT met'} |`);
if (values.json) console.log(JSON.stringify({ rounds: perRound, inflight }));
core.stop();
await core.replay?.store.stop();
process.exit(0);
