/**
 * dpop: a DPoP request with a cached token against bare WebCrypto verification of the same proofs, in-process
 * (bench/dpop.ts in its own process: `authorizer.check` with a fresh proof per request vs `crypto.subtle.verify` of
 * that proof, 64 in flight, order alternating per round). Target (issue 21): ≥ 85 %.
 */
import { fmtRps } from '../stats.ts';
import { perRound, spreadOf } from '../spread.ts';
import { withStat } from '../rows.ts';
import type { Bench } from '../context.ts';

export const DPOP_GOAL = 0.85;

interface DpopOut {
  readonly rounds: readonly { readonly target: number; readonly floor: number }[];
  readonly inflight: number;
}

export async function run(b: Bench): Promise<void> {
  b.log('dpop: DPoP request with a cached token vs bare WebCrypto proof verification (in-process)');
  const durationS = b.opt.quick ? 1 : b.opt.durationS;
  const out = await b.script<DpopOut>('dpop.ts', ['--duration', String(durationS), '--rounds', String(b.opt.rounds), '--json']);
  const target = out.rounds.map((r) => r.target);
  const floor = out.rounds.map((r) => r.floor);
  for (const [i, r] of out.rounds.entries()) b.log(`  round ${i + 1}: DPoP ${fmtRps(r.target)}/s, bare WebCrypto ${fmtRps(r.floor)}/s`);
  const med = (xs: readonly number[]): string => fmtRps(spreadOf(xs).median);
  b.rows.push(withStat({
    scenario: 'DPoP request with a cached token (ES256 proof)',
    how: `in-process (bench/dpop.ts): authorizer.check, a fresh proof per request, ${out.inflight} in flight, ${durationS} s per side per round`,
    target: `${med(target)} requests/s`,
    floor: `bare WebCrypto subtle.verify of the same proofs: ${med(floor)}/s`,
    notes: 'one core, memory replay store; the token is in the verified-token cache, the proof is verified on every request',
  }, { spread: spreadOf(perRound(target, floor, (t, f) => t / f)), unit: 'pct', atLeast: true, goal: DPOP_GOAL, errors: false }));
}
