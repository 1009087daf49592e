/**
 * What the two unique-token scenarios share: token sets (fresh ones for Portcullis in every round; the floors have no
 * cache, so they get the same ones), the three-way comparison against both verifying floors, and the row, whose
 * ratio is taken against the FASTER floor.
 */
import { ALGS, signTokens, type Alg } from '../fixtures.ts';
import { fmtPct, fmtRps } from '../stats.ts';
import { perf, ratioRow, type Summary } from '../rows.ts';
import { joseCpuUs, subtleCpuUs, run as runMicro } from './micro.ts';
import type { RunResult } from '../loadgen.ts';
import type { Bench } from '../context.ts';
import type { Child } from '../procs.ts';

export const UNIQUE_GOAL = 0.9;

export interface UniqueTokens {
  /** Round r: the tokens of that round. */
  readonly rounds: readonly (readonly string[])[];
  /** For warming each server up (JIT) before the measured runs. */
  readonly warm: readonly string[];
}

/**
 * Warm-up tokens per algorithm. The warm-up sends them for 1 s, cycling; Portcullis answers a repeat from its cache,
 * so with a short list its uncached path ran only ~1,000 times before round 1 (its first round was often its
 * slowest) while the floors, which have no cache, verified every request. About one token per warm-up request.
 */
const WARM_TOKENS = 10_000;

export async function uniqueTokens(b: Bench, alg: Alg, tag: string): Promise<UniqueTokens> {
  const n = b.opt.uniqueTokens;
  const warm = b.opt.quick ? 500 : WARM_TOKENS;
  b.log(`unique tokens ${alg}: signing ${b.opt.rounds} × ${n.toLocaleString('en-US')} + ${warm.toLocaleString('en-US')} warm-up`);
  const t0 = performance.now();
  const all = await signTokens(b.keys[alg], b.opt.rounds * n + warm, `${tag}${alg}`);
  b.log(`  signed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { rounds: Array.from({ length: b.opt.rounds }, (_, r) => all.slice(r * n, (r + 1) * n)), warm: all.slice(b.opt.rounds * n) };
}

export interface UniqueSide {
  readonly child: Child;
  readonly port: number;
}

/**
 * Portcullis against the bare-jose floor and the raw node:crypto floor, `run` loading one server with one round's
 * tokens; rounds rotate the order. Pushes the row; returns the highest rate any side reached (for the generator check).
 */
export async function uniqueCompare(
  b: Bench,
  o: {
    alg: Alg;
    transport: 'HTTP forward_auth' | 'gRPC Check';
    how: string;
    portcullis: UniqueSide;
    jose: UniqueSide;
    crypto: UniqueSide;
    run: (side: UniqueSide, tokens: readonly string[], round: number, m: Parameters<Parameters<Bench['measure']>[2]>[0]) => Promise<RunResult>;
    notes: readonly string[];
  },
  tokens: UniqueTokens,
): Promise<number> {
  const [jose, crypto, target] = await b.compare(`unique ${o.transport} ${o.alg}`, [
    { label: 'jose floor', child: o.jose.child, run: (m, r) => o.run(o.jose, tokens.rounds[r]!, r, m) },
    { label: 'node:crypto floor', child: o.crypto.child, run: (m, r) => o.run(o.crypto, tokens.rounds[r]!, r, m) },
    { label: 'portcullis', child: o.portcullis.child, run: (m, r) => o.run(o.portcullis, tokens.rounds[r]!, r, m) },
  ], false);
  const faster: Summary = jose!.rps >= crypto!.rps ? jose! : crypto!;
  const fasterName = faster === jose ? 'bare jose' : 'raw node:crypto';
  const mi = b.micro?.find((m) => m.alg === o.alg);
  b.rows.push(ratioRow({
    scenario: `Unique tokens, ${o.alg}, ${o.transport}`,
    how: o.how,
    target: target!,
    floor: faster,
    floorText: `bare jose jwtVerify: ${perf(jose!)}; raw node:crypto verify + exp/iss/aud: ${perf(crypto!)}`,
    goal: UNIQUE_GOAL,
    notes: [
      `ratio against the faster floor (${fasterName}); against the other ${fmtPct(target!.rps / (faster === jose ? crypto! : jose!).rps)}`,
      `floor server CPU: jose ${jose!.serverCores.toFixed(2)}, node:crypto ${crypto!.serverCores.toFixed(2)} cores`,
      mi ? `physical floor: raw node:crypto ${mi.rawUs.toFixed(1)} µs/op = ${fmtRps(1e6 / mi.rawUs)}/s on one core; jose costs ${joseCpuUs(mi).toFixed(0)} µs of CPU per verify (${(joseCpuUs(mi) / mi.rawUs).toFixed(1)}× raw), WebCrypto's subtle.verify alone ${subtleCpuUs(mi).toFixed(0)} µs` : '',
      ...o.notes,
    ],
  }));
  return Math.max(jose!.rps, crypto!.rps, target!.rps);
}

/** The micro results feed the notes; run them if the micro scenario did not. */
export async function ensureMicro(b: Bench): Promise<void> {
  await runMicro(b);
}

export { ALGS };
