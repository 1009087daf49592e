/**
 * unique-http: forward auth with a token never seen before on every request (ES256, RS256, EdDSA), wrk with
 * bench/tokens.lua reading the token list from a file, against a bare jose server and a raw node:crypto server.
 */
import { wrkTokens } from '../token-load.ts';
import { HTTP_CONNS, shared, verifyFloors } from '../setup.ts';
import { fmtRps } from '../stats.ts';
import { ALGS, ensureMicro, uniqueCompare, uniqueTokens } from './unique.ts';
import type { Bench } from '../context.ts';

export async function run(b: Bench): Promise<void> {
  if (!b.tools.wrk) {
    b.warnings.push('unique-http skipped: it needs wrk (Debian package wrk)');
    return;
  }
  await ensureMicro(b);
  const s = await shared(b);
  const vf = await verifyFloors(b);
  const url = (port: number): string => `http://127.0.0.1:${port}/auth`;
  const durationS = Math.max(1, Math.round(b.opt.durationS));

  // Is wrk + Lua (a Lua call per request) far faster than any verify server? Checked on the empty floor.
  const check = await b.measure(s.httpFloor, 'wrk + tokens.lua on the empty node:http floor', (m) =>
    wrkTokens({ url: url(s.floorPorts.http), connections: HTTP_CONNS, durationS, headers: s.faHeaders, tokens: [s.hitToken], tokenFile: b.outPath('tokens-check.txt'), onSpawn: (pid) => m.generator(pid) }));
  b.notes.push(`unique-http generator check: wrk + tokens.lua drives the empty node:http floor at ${fmtRps(check.rps)} rps${s.floorSummaries.http ? ` (plain wrk: ${fmtRps(s.floorSummaries.http.rps)})` : ''}`);

  for (const alg of ALGS) {
    const tokens = await uniqueTokens(b, alg, 'uh');
    const passes: number[] = [];
    const sides = { portcullis: { child: s.main.child, port: s.main.httpPort }, jose: vf.http.jose, crypto: vf.http.crypto };
    for (const side of Object.values(sides)) {
      await wrkTokens({ url: url(side.port), connections: HTTP_CONNS, durationS: 1, headers: s.faHeaders, tokens: tokens.warm, tokenFile: b.outPath(`tokens-${alg}-warm.txt`) });
    }
    await uniqueCompare(b, {
      alg,
      transport: 'HTTP forward_auth',
      how: `wrk + tokens.lua, ${HTTP_CONNS} conns, ${b.opt.uniqueTokens.toLocaleString('en-US')} tokens per run, one per request`,
      ...sides,
      run: async (side, list, round, m) => {
        const r = await wrkTokens({ url: url(side.port), connections: HTTP_CONNS, durationS, headers: s.faHeaders, tokens: list, tokenFile: b.outPath(`tokens-${alg}-${round}.txt`), onSpawn: (pid) => m.generator(pid) });
        if (side === sides.portcullis) passes.push(r.passes);
        return r;
      },
      notes: [],
    }, tokens);
    const most = Math.max(...passes);
    if (most > 1) {
      const row = b.rows.pop()!;
      b.rows.push({ ...row, notes: `${row.notes}; ⚠ the token list wrapped (${most.toFixed(2)} passes): ${most > 2 ? 'Portcullis saw some tokens three times, and a third sight is a cache hit: the ratio is flattered' : 'Portcullis saw some tokens twice (the cache admits on second sight, so they were still verified)'}; raise --unique-tokens` });
    }
  }
}
