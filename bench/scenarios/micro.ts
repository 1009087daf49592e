/** micro: the physical floor in-process (raw node:crypto verify, jose one at a time and 64 in flight), per algorithm. */
import { writeFileSync } from 'node:fs';
import { ALGS, AUDIENCE, ISSUER, signTokens } from '../fixtures.ts';
import { fmtRps } from '../stats.ts';
import type { Bench } from '../context.ts';
import type { MicroInput, MicroResult } from '../micro.ts';

/** CPU µs one jose verification costs, from the 64-in-flight run (cores used / verifications per second). */
export const joseCpuUs = (m: MicroResult): number => (m.jose64Cores * 1e6) / m.jose64PerS;
/** The same for WebCrypto's subtle.verify alone (what Portcullis calls). */
export const subtleCpuUs = (m: MicroResult): number => (m.subtle64Cores * 1e6) / m.subtle64PerS;

/** Runs once per bench; the unique-token scenarios use it for their notes. */
export async function run(b: Bench): Promise<void> {
  if (b.micro) return;
  b.log('micro: raw node:crypto verify vs jose jwtVerify, in-process');
  const input: MicroInput = { seconds: b.opt.quick ? 0.4 : 1.5, issuer: ISSUER, audience: AUDIENCE, algs: {} };
  for (const alg of ALGS) (input.algs as Record<string, unknown>)[alg] = { jwk: b.keys[alg].jwk, tokens: await signTokens(b.keys[alg], 500, 'micro') };
  const file = b.outPath('micro-input.json');
  writeFileSync(file, JSON.stringify(input));
  b.micro = await b.script<MicroResult[]>('micro.ts', [file]);
  for (const m of b.micro) b.log(`  ${m.alg}: raw ${m.rawUs.toFixed(1)} µs/op, jose ${m.joseUs.toFixed(1)} µs/op one at a time, 64 in flight ${fmtRps(m.jose64PerS)}/s on ${m.jose64Cores.toFixed(2)} cores = ${joseCpuUs(m).toFixed(1)} µs CPU/op; subtle.verify 64 in flight ${fmtRps(m.subtle64PerS)}/s = ${subtleCpuUs(m).toFixed(1)} µs CPU/op`);
}
