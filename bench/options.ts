/** The command line of `npm run bench` (every option also as a BENCH_* env var), parsed once. */
import { PORTCULLIS_NODE_FLAGS } from './startup.ts';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ALGS, type Alg } from './fixtures.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(BENCH_DIR, '..');

/** In the order they run. */
export const SCENARIOS = ['startup', 'micro', 'grpc', 'http', 'unique-http', 'unique-grpc', 'latency', 'tracing', 'cel', 'introspection', 'dpop', 'replay', 'workers', 'flood'] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** Older names that still work. */
const ALIASES: Readonly<Record<string, readonly Scenario[]>> = { unique: ['unique-http', 'unique-grpc'] };

const HELP = `npm run bench [-- options] [SCENARIO ...]   (every option also as an env var, e.g. BENCH_DURATION=5)

  SCENARIO ...            run only these (also --scenarios a,b): ${SCENARIOS.join(', ')}
                          ('unique' = unique-http + unique-grpc); default all, quick leaves out workers
  --quick                 smoke check: 1 s runs, 1 round, small token sets                    [BENCH_QUICK=1]
  --duration S            seconds per measured run (default 6; quick 1)                       [BENCH_DURATION]
  --rounds N              target/floor sets per scenario, order rotating (default 2)          [BENCH_ROUNDS]
  --repeat N              run the chosen scenarios N times in a row, each with fresh processes;
                          the table shows each row's lowest median (highest for a ≤ target)
                          and the range over every round of every run (default 1)            [BENCH_REPEAT]
  --repeat-scenarios LIST only these of the chosen scenarios are repeated (default: all of them);
                          the others run once, e.g. a full table whose http and grpc rows are
                          the worst of three runs: --repeat 3 --repeat-scenarios http,grpc    [BENCH_REPEAT_SCENARIOS]
  --scenarios LIST        comma list, as the positional names                                 [BENCH_SCENARIOS]
  --unique-tokens N       distinct tokens per algorithm per run (default 60000; quick 3000)   [BENCH_UNIQUE_TOKENS]
  --flood-tokens N        tokens in the RSS flood (default 1000000; quick 20000)              [BENCH_FLOOD_TOKENS]
  --flood-alg ALG         RS256 | ES256 | EdDSA (default EdDSA: the cheapest to sign)         [BENCH_FLOOD_ALG]
  --entry server|main     server: bench/server.ts calls startPortcullis in one process (default);
                          main: src/main.ts --config, the real entry point (workers, whatever main wires) [BENCH_ENTRY]
  --config-json JSON      merged into the Portcullis config, e.g. '{"cache":{"max_entries":0}}' [BENCH_CONFIG_JSON]
  --node-flags LIST       node flags of the Portcullis children, comma list or 'none' (default: those of
                          package.json's start script, as npm start and the image run it)   [BENCH_NODE_FLAGS]
  --cpu-prof              write V8 CPU profiles of the Portcullis children and summarize them [BENCH_CPU_PROF=1]
  --wait-quiet S          before each run wait up to S s for other processes to go quiet
                          (default 20, quick 0; at most 90 s in all); in full mode a run
                          disturbed by other processes (≥ 0.3 cores) is repeated once         [BENCH_WAIT_QUIET]
  --threadpool LIST       workers scenario: UV_THREADPOOL_SIZE values to compare on unique
                          tokens with workers: 1 (default 4,8; 'none' skips)                  [BENCH_THREADPOOL]
  --write-readme          replace the generated block of README.md (between the bench markers) [BENCH_WRITE_README=1]
  --out DIR               where results, configs and logs go (default bench/results, git-ignored) [BENCH_OUT]
`;

export interface Options {
  readonly quick: boolean;
  readonly durationS: number;
  readonly rounds: number;
  readonly repeat: number;
  /** Node's flags for the Portcullis children: by default what `npm start` passes (PORTCULLIS_NODE_FLAGS). */
  readonly nodeFlags: readonly string[];
  /** The scenarios --repeat runs again (the others run once); every chosen one by default. */
  readonly repeatScenarios: ReadonlySet<Scenario>;
  readonly scenarios: ReadonlySet<Scenario>;
  readonly uniqueTokens: number;
  readonly floodTokens: number;
  readonly floodAlg: Alg;
  readonly entry: 'server' | 'main';
  readonly extraConfig: Record<string, unknown>;
  readonly cpuProf: boolean;
  readonly waitQuietS: number;
  readonly threadpool: readonly number[];
  readonly writeReadme: boolean;
  readonly out: string;
  readonly command: string;
}

function nodeFlagsOf(v: string | undefined): readonly string[] {
  if (v === undefined || v === '') return PORTCULLIS_NODE_FLAGS;
  return v === 'none' ? [] : v.split(',').map((f) => f.trim()).filter(Boolean);
}

export function parseOptions(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Options {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      repeat: { type: 'string' },
      'repeat-scenarios': { type: 'string' },
      scenarios: { type: 'string' },
      'unique-tokens': { type: 'string' },
      'flood-tokens': { type: 'string' },
      'flood-alg': { type: 'string' },
      entry: { type: 'string' },
      'config-json': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'node-flags': { type: 'string' },
      'wait-quiet': { type: 'string' },
      threadpool: { type: 'string' },
      'write-readme': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick ?? env.BENCH_QUICK === '1';
  const num = (v: string | undefined, fallback: number, name: string): number => {
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${v}" is not a positive number`);
    return n;
  };
  const named = [...positionals, ...((values.scenarios ?? env.BENCH_SCENARIOS)?.split(',') ?? [])].map((s) => s.trim()).filter(Boolean);
  const picked: Scenario[] = [];
  for (const s of named) {
    const expanded = ALIASES[s] ?? ((SCENARIOS as readonly string[]).includes(s) ? [s as Scenario] : undefined);
    if (expanded === undefined) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')}, unique)`);
    picked.push(...expanded);
  }
  const scenarios = new Set<Scenario>(picked.length > 0 ? SCENARIOS.filter((s) => picked.includes(s)) : SCENARIOS.filter((s) => !(quick && s === 'workers')));
  const repeatNamed = (values['repeat-scenarios'] ?? env.BENCH_REPEAT_SCENARIOS)?.split(',').map((s) => s.trim()).filter(Boolean);
  const repeatScenarios = new Set<Scenario>(repeatNamed === undefined ? scenarios : repeatNamed.flatMap((s) => {
    const expanded = ALIASES[s] ?? ((SCENARIOS as readonly string[]).includes(s) ? [s as Scenario] : undefined);
    if (expanded === undefined) throw new Error(`--repeat-scenarios: unknown scenario "${s}"`);
    return expanded.filter((e) => scenarios.has(e));
  }));
  const entry = values.entry ?? env.BENCH_ENTRY ?? 'server';
  if (entry !== 'server' && entry !== 'main') throw new Error(`--entry must be server or main, not "${entry}"`);
  const floodAlg = (values['flood-alg'] ?? env.BENCH_FLOOD_ALG ?? 'EdDSA') as Alg;
  if (!ALGS.includes(floodAlg)) throw new Error(`--flood-alg must be one of ${ALGS.join(', ')}`);
  const configJson = values['config-json'] ?? env.BENCH_CONFIG_JSON;
  const pool = values.threadpool ?? env.BENCH_THREADPOOL ?? '4,8';
  const threadpool = pool === 'none' ? [] : pool.split(',').map((s) => Math.round(num(s.trim(), 4, '--threadpool')));
  const waitQuiet = values['wait-quiet'] ?? env.BENCH_WAIT_QUIET;
  return {
    quick,
    durationS: num(values.duration ?? env.BENCH_DURATION, quick ? 1 : 6, '--duration'),
    rounds: Math.round(num(values.rounds ?? env.BENCH_ROUNDS, quick ? 1 : 2, '--rounds')),
    repeat: Math.round(num(values.repeat ?? env.BENCH_REPEAT, 1, '--repeat')),
    scenarios,
    repeatScenarios,
    uniqueTokens: Math.round(num(values['unique-tokens'] ?? env.BENCH_UNIQUE_TOKENS, quick ? 3000 : 60_000, '--unique-tokens')),
    floodTokens: Math.round(num(values['flood-tokens'] ?? env.BENCH_FLOOD_TOKENS, quick ? 20_000 : 1_000_000, '--flood-tokens')),
    floodAlg,
    entry: entry as 'server' | 'main',
    extraConfig: configJson ? (JSON.parse(configJson) as Record<string, unknown>) : {},
    cpuProf: values['cpu-prof'] ?? env.BENCH_CPU_PROF === '1',
    nodeFlags: nodeFlagsOf(values['node-flags'] ?? env.BENCH_NODE_FLAGS),
    waitQuietS: waitQuiet ? Number(waitQuiet) : quick ? 0 : 20,
    threadpool,
    writeReadme: values['write-readme'] ?? env.BENCH_WRITE_README === '1',
    out: resolve(REPO, values.out ?? env.BENCH_OUT ?? 'bench/results'),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
  };
}
