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
import { profileSummaries, report, writeReadme } from './report.ts';
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

const SCENARIO_MODULES: Readonly<Record<Scenario, { run(b: Bench): Promise<void> }>> = {
  micro, grpc, http, 'unique-http': uniqueHttp, 'unique-grpc': uniqueGrpc, latency, tracing, cel, introspection, workers, flood,
};

let bench: Bench | undefined;

async function main(): Promise<void> {
  const opt = parseOptions();
  const machine = machineInfo(REPO);
  process.stderr.write(`[bench] ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; scenarios: ${[...opt.scenarios].join(', ')}; ${opt.durationS} s × ${opt.rounds} round(s)\n`);
  const tools = ensureTools((s) => process.stderr.write(`[bench] ${s}\n`));
  const b = (bench = new Bench(opt, machine, await makeKeys(), tools));
  for (const n of tools.notes) {
    b.log(n);
    b.warnings.push(n);
  }
  const versions = toolVersions();
  for (const name of opt.scenarios) await SCENARIO_MODULES[name].run(b);

  await b.stopAll(); // the children write their --cpu-prof profiles on the way out
  const md = report(b, versions, profileSummaries(b));
  const stamp = machine.date.replace(/[:]/g, '').replace(/-/g, '');
  const mdFile = b.outPath(`results-${stamp}.md`);
  writeFileSync(mdFile, md);
  writeFileSync(b.outPath(`results-${stamp}.json`), JSON.stringify({ machine, versions, options: { ...opt, scenarios: [...opt.scenarios] }, rows: b.rows, micro: b.micro, warnings: b.warnings, notes: b.notes }, null, 2));
  process.stdout.write(`\n${md}\n`);
  if (opt.writeReadme && opt.quick) b.log('README.md left alone: --write-readme does not publish a --quick run');
  else if (opt.writeReadme) {
    writeReadme(join(REPO, 'README.md'), report(b, versions));
    b.log('README.md: the generated benchmark block is replaced');
  }
  b.log(`done in ${b.elapsedS().toFixed(0)} s; written to ${relative(REPO, mdFile)}`);
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
