/**
 * Minted tokens per second: Portcullis's Minter (key ring lookup, claims, jti from the CSPRNG, jose SignJWT) against
 * bare jose `SignJWT` with the same claims and key, in the same run, alternating rounds, one token at a time
 * (awaited), per algorithm. Target: Minter ≥ 0.9 × bare jose.
 *
 *   node bench/sign.ts [--seconds 2] [--rounds 3]
 *
 * Prints one Markdown table. Run it on a quiet machine: figures from a shared one mean nothing.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { Minter } from '../src/core/sign/mint.ts';
import { newKeyFile } from '../src/core/sign/generated.ts';
import { parseKeyFile, type SigningAlgorithm } from '../src/core/sign/keyfile.ts';
import type { SignerConfig } from '../src/core/config.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

async function rate(fn: () => Promise<unknown>, ms: number): Promise<number> {
  for (let i = 0; i < 100; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await fn();
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: string[] = [];
for (const alg of ['ES256', 'EdDSA'] as SigningAlgorithm[]) {
  const parsed = parseKeyFile(JSON.stringify(newKeyFile(alg, 0, undefined)));
  if (!parsed.ok) throw new Error(parsed.problem);
  const key = parsed.key;
  const config: SignerConfig = {
    issuer: 'https://orders.shop.svc', algorithm: alg, keys: { dir: '/unused', allowGroupRead: false }, ttlMs: 300_000, maxSkewMs: 60_000,
    fixedAudience: null, subjectHeader: null, claims: { team: 'checkout' }, allowedAudiences: null, replaceExisting: false,
    publishLeadMs: 0, endpoint: '/sign', endpointPolicy: 'sign',
  };
  const minter = new Minter(config, { signingKey: () => key }, Date.now);
  const mint = () => minter.mint({ audience: 'https://payments.svc' });
  const bare = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ team: 'checkout', iss: config.issuer, aud: 'https://payments.svc', iat: now, nbf: now - 60, exp: now + 300, jti: randomBytes(16).toString('base64url') })
      .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  };
  const ours: number[] = [];
  const floor: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so neither side always runs on a warmer or cooler machine.
    if (r % 2 === 0) {
      ours.push(await rate(mint, (seconds * 1000) / rounds));
      floor.push(await rate(bare, (seconds * 1000) / rounds));
    } else {
      floor.push(await rate(bare, (seconds * 1000) / rounds));
      ours.push(await rate(mint, (seconds * 1000) / rounds));
    }
  }
  const o = median(ours);
  const f = median(floor);
  rows.push(`| ${alg} | ${o.toFixed(0)} | ${f.toFixed(0)} | ${(o / f).toFixed(2)} | ≥ 0.90 |`);
}

process.stdout.write(`Command: node bench/sign.ts --seconds ${seconds} --rounds ${rounds} (one token at a time, medians of ${rounds} alternating rounds)\n\n`);
process.stdout.write('| alg | Minter tokens/s | bare jose SignJWT tokens/s | ratio | target |\n|---|---|---|---|---|\n');
process.stdout.write(`${rows.join('\n')}\n`);
