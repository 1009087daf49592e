/**
 * `npm run bench [-- options] [SCENARIO ...]` — Portcullis measured side by side with its floors, in the same run, on
 * the same machine. Each scenario is a module in bench/scenarios/ and runs alone (`npm run bench -- unique-http`);
 * what they share lives in bench/context.ts (processes, measured runs, rows) and bench/setup.ts (the Portcullis
 * under test, the cache-hit request, the floors). `npm run bench -- --help` lists the options; bench/README.md says
 * what each scenario and floor is.
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { makeKeys } from './fixtures.ts';
import { ensureTools, toolVersions } from './loadgen.ts';
import { machineInfo } from './machine.ts';
import { Bench } from './context.ts';
import { parseOptions, REPO, type Scenario } from './options.ts';
import { profileSummaries, report, writeReadme, type Results } from './report.ts';
import { combineRepeats, type Row } from './rows.ts';
import * as micro from './scenarios/micro.ts';
import * as grpc from './scenarios/grpc.ts';
import * as http from './scenarios/http.ts';
import * as uniqueHttp from './scenarios/unique-http.ts';
import * as uniqueGrpc from './scenarios/unique-grpc.ts';
import * as latency from './scenarios/latency.ts';
import * as tracing from './scenarios/tracing.ts';
import * as introspection from './scenarios/introspection.ts';
import * as workers from './scenarios/workers.ts';
import * as flood from './scenarios/flood.ts';
import * as cel from './scenarios/cel.ts';
import * as dpop from './scenarios/dpop.ts';
import * as replay from './scenarios/replay.ts';
import * as startup from './scenarios/startup.ts';

const SCENARIO_MODULES: Readonly<Record<Scenario, { run(b: Bench): Promise<void> }>> = {
  startup, micro, grpc, http, 'unique-http': uniqueHttp, 'unique-grpc': uniqueGrpc, latency, tracing, cel, introspection, dpop, replay, workers, flood,
};

let bench: Bench | undefined;

async function main(): Promise<void> {
  const opt = parseOptions();
  const machine = machineInfo(REPO);
  process.stderr.write(`[bench] ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; scenarios: ${[...opt.scenarios].join(', ')}; ${opt.durationS} s × ${opt.rounds} round(s)\n`);
  const tools = ensureTools((s) => process.stderr.write(`[bench] ${s}\n`));
  const keys = await makeKeys();
  const versions = toolVersions();
  // --repeat N: the same scenarios N times in a row, each run with fresh processes (a new Bench starts its own);
  // after the first run only --repeat-scenarios run again. Each scenario's rows are combined over the runs it ran in.
  const runs: Bench[] = [];
  const rowsOf = new Map<Scenario, Row[][]>();
  for (let k = 0; k < opt.repeat; k++) {
    const b = (bench = new Bench(opt, machine, keys, tools));
    if (k === 0) for (const n of tools.notes) {
      b.log(n);
      b.warnings.push(n);
    }
    if (opt.repeat > 1) b.log(`run ${k + 1} of ${opt.repeat}`);
    for (const name of opt.scenarios) {
      if (k > 0 && !opt.repeatScenarios.has(name)) continue;
      const before = b.rows.length;
      await SCENARIO_MODULES[name].run(b);
      let slot = rowsOf.get(name);
      if (!slot) rowsOf.set(name, (slot = []));
      slot.push(b.rows.slice(before));
    }
    await b.stopAll(); // the children write their --cpu-prof profiles on the way out
    runs.push(b);
  }
  const b = runs[runs.length - 1]!;
  const tag = (k: number, s: string): string => (runs.length > 1 ? `run ${k + 1}/${runs.length}: ${s}` : s);
  const results: Results = {
    machine, opt,
    rows: [...opt.scenarios].flatMap((name) => combineRepeats(rowsOf.get(name) ?? [[]])),
    notes: runs.flatMap((r, k) => r.notes.map((n) => tag(k, n))),
    warnings: runs.flatMap((r, k) => r.warnings.map((w) => tag(k, w))),
    micro: b.micro,
  };
  const md = report(results, versions, profileSummaries(b));
  const stamp = machine.date.replace(/[:]/g, '').replace(/-/g, '');
  const mdFile = b.outPath(`results-${stamp}.md`);
  writeFileSync(mdFile, md);
  writeFileSync(b.outPath(`results-${stamp}.json`), JSON.stringify({ machine, versions, options: { ...opt, scenarios: [...opt.scenarios] }, rows: results.rows, runs: runs.map((r) => ({ rows: r.rows, micro: r.micro, warnings: r.warnings, notes: r.notes })) }, null, 2));
  process.stdout.write(`\n${md}\n`);
  if (opt.writeReadme && opt.quick) b.log('README.md left alone: --write-readme does not publish a --quick run');
  else if (opt.writeReadme) {
    writeReadme(join(REPO, 'README.md'), report(results, versions));
    b.log('README.md: the generated benchmark block is replaced');
  }
  b.log(`done in ${runs[0]!.elapsedS().toFixed(0)} s; written to ${relative(REPO, mdFile)}`);
}

process.once('SIGINT', () => {
  bench?.kill();
  process.exit(130);
});
main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  bench?.kill();
  process.exit(1);
});
