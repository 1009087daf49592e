/**
 * flood: 1,000,000 unique tokens (each once) against a fresh instance, RSS sampled every 250 ms; target peak RSS
 * (VmHWM) < 300 MB.
 */
import { signTokens } from '../fixtures.ts';
import { rawHttp } from '../node-clients.ts';
import { processTree, treeMemory } from '../procs.ts';
import { fmtMb, fmtRps } from '../stats.ts';
import { infoRow, noise, summarize } from '../rows.ts';
import { HTTP_CONNS, shared } from '../setup.ts';
import type { Bench } from '../context.ts';

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  const n = b.opt.floodTokens;
  b.log(`flood: signing ${n.toLocaleString('en-US')} ${b.opt.floodAlg} tokens`);
  const t0 = performance.now();
  const tokens = await signTokens(b.keys[b.opt.floodAlg], n, 'flood');
  const signS = (performance.now() - t0) / 1000;
  b.log(`  signed in ${signS.toFixed(1)} s`);
  // --expose-gc only so that, after the flood, a full collection can tell the live heap from uncollected garbage.
  const f = await b.startPortcullis('portcullis-flood', { nodeArgs: ['--expose-gc'] });
  const tree = (): number[] => processTree(f.child.pid);
  const base = treeMemory(tree());
  const curve: { done: number; rssKb: number }[] = [];
  let done = 0;
  let i = 0;
  let peakHeapTotal = 0;
  let heapPolls = 0;
  const r = await b.measure(f.child, `flood ${n} tokens`, () => {
    const sampler = setInterval(() => {
      const m = treeMemory(tree());
      curve.push({ done, rssKb: m.rssKb });
      // The V8 heap's committed size, once a second (the child answers over IPC).
      if (heapPolls++ % 4 === 0) void f.child.memory().then((mu) => (peakHeapTotal = Math.max(peakHeapTotal, mu?.heapTotal ?? 0)));
    }, 250);
    return rawHttp({ port: f.httpPort, prefix: s.faPrefix, suffix: s.faSuffix, connections: HTTP_CONNS, next: () => tokens[i++], onProgress: (d) => (done = d) })
      .finally(() => clearInterval(sampler));
  }, false);
  const end = treeMemory(tree());
  const mem = await f.child.memory();
  const live = await f.child.memory(true);
  const afterGc = treeMemory(tree());
  const hwmKb = end.hwmKb;
  const deciles = [0.1, 0.25, 0.5, 0.75, 1].map((q) => {
    const at = curve.find((c) => c.done >= q * n) ?? curve[curve.length - 1];
    return `${(q * 100).toFixed(0)} %: ${at ? fmtMb(at.rssKb) : '–'}`;
  });
  const configured = (b.opt.extraConfig.cache as { max_entries?: number } | undefined)?.max_entries;
  b.rows.push(infoRow({
    scenario: `${n.toLocaleString('en-US')} unique tokens (${b.opt.floodAlg}), RSS`,
    how: `fresh instance, node:net client, ${HTTP_CONNS} conns, each token once (signed beforehand in ${signS.toFixed(0)} s on worker threads)`,
    target: `peak RSS ${fmtMb(hwmKb)} (VmHWM${end.processes > 1 ? `, summed over ${end.processes} processes` : ''}); ${fmtRps(r.rps)} rps`,
    floor: `at start ${fmtMb(base.rssKb)}, at end ${fmtMb(end.rssKb)}`,
    ratio: '–',
    goal: '< 300 MB',
    verdict: r.errors ? '**errors**' : hwmKb < 300 * 1024 ? 'met' : '**missed**',
    missedBy: !r.errors && hwmKb >= 300 * 1024 ? fmtMb(hwmKb - 300 * 1024) : '',
    notes: [
      `RSS along the flood: ${deciles.join(', ')}`,
      peakHeapTotal || mem ? `V8 heap committed up to ${fmtMb(Math.max(peakHeapTotal, mem?.heapTotal ?? 0) / 1024)} during the flood` : '',
      mem ? `at the end ${fmtMb(mem.heapTotal / 1024)} committed, ${fmtMb(mem.heapUsed / 1024)} used, external ${fmtMb(mem.external / 1024)}` : '',
      live?.collected ? `after a full GC ${fmtMb(live.heapUsed / 1024)} live (RSS stays ${fmtMb(afterGc.rssKb)}: V8 keeps the pages it grew into)` : '',
      `cache max_entries ${configured ?? 'default'}`,
      n < 1_000_000 ? `⚠ ${n.toLocaleString('en-US')} tokens, not 1,000,000 (--flood-tokens)` : '',
      noise(summarize([r])),
    ].filter(Boolean).join('; '),
  }));
  await b.stopChild(f.child);
}
