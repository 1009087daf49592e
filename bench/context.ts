/**
 * What every scenario shares: the options, the log, the output directory, the child processes (started here and
 * always stopped), measured runs with CPU accounting, side-by-side comparisons, and the rows and notes of the report.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { configDoc, type Alg, type BenchKey } from './fixtures.ts';
import { freePort, processTree, spawnChild, type Child } from './procs.ts';
import type { RunResult } from './loadgen.ts';
import { CpuMeter, waitQuiet, type CpuWindow, type MachineInfo } from './machine.ts';
import { fmtRps, fmtUs } from './stats.ts';
import { summarize, type Row, type Summary } from './rows.ts';
import { BENCH_DIR, REPO, type Options } from './options.ts';
import type { FloorKind, GrpcFloorOptions, HttpFloorOptions, VerifyFloorOptions } from './floors.ts';
import type { MicroResult } from './micro.ts';

export interface Measured extends RunResult {
  readonly cpu: CpuWindow;
  readonly waitedMs: number;
}

export interface PortcullisInstance {
  readonly child: Child;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly profDir: string | undefined;
}

/** One side of a comparison: a server process and how to load it in round `round`. */
export interface Side {
  readonly label: string;
  readonly child: Child;
  readonly run: (m: CpuMeter, round: number) => Promise<RunResult>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly replaceEnv?: boolean;
  readonly extra?: Record<string, unknown>;
  readonly entry?: 'server' | 'main';
  readonly nodeArgs?: string[];
}

export class Bench {
  readonly rows: Row[] = [];
  /** Lines under the table (generator checks and the like). */
  readonly notes: string[] = [];
  readonly warnings: string[] = [];
  readonly children: Child[] = [];
  readonly warmupS: number;
  micro: MicroResult[] | undefined;
  readonly #t0 = performance.now();
  readonly #scripts = new Set<ChildProcess>();
  #quietBudgetMs: number;
  #noisyRetries = 8;

  readonly opt: Options;
  readonly machine: MachineInfo;
  readonly keys: Record<Alg, BenchKey>;
  readonly tools: { readonly wrk: boolean; readonly h2load: boolean };

  constructor(opt: Options, machine: MachineInfo, keys: Record<Alg, BenchKey>, tools: { readonly wrk: boolean; readonly h2load: boolean }) {
    this.opt = opt;
    this.machine = machine;
    this.keys = keys;
    this.tools = tools;
    this.warmupS = opt.quick ? 0.5 : 1;
    this.#quietBudgetMs = Math.min(opt.waitQuietS * 10_000, 90_000);
  }

  log(s: string): void {
    process.stderr.write(`[bench ${((performance.now() - this.#t0) / 1000).toFixed(0).padStart(3)}s] ${s}\n`);
  }

  elapsedS(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** A path in the output directory, which is (re)created first: other people's tools may clean temp directories. */
  outPath(...parts: string[]): string {
    const p = join(this.opt.out, ...parts);
    mkdirSync(dirname(p), { recursive: true });
    return p;
  }

  /**
   * One measured run. In full mode the machine is first given a chance to go quiet, and a repeatable run during which
   * other processes used ≥ 0.3 cores is run once more (a few times per bench at most). Runs that consume unique
   * tokens are not repeatable: the second try would be served from the cache.
   */
  async measure(server: Child, what: string, fn: (meter: CpuMeter) => Promise<RunResult>, repeatable = true): Promise<Measured> {
    for (let attempt = 0; ; attempt++) {
      let waitedMs = 0;
      if (this.opt.waitQuietS > 0 && this.#quietBudgetMs > 0) {
        const q = await waitQuiet(Math.min(this.opt.waitQuietS * 1000, this.#quietBudgetMs));
        waitedMs = q.waitedMs;
        this.#quietBudgetMs -= q.waitedMs;
        if (q.busyCores >= 0.25) this.log(`  machine still busy (${q.busyCores.toFixed(2)} cores used by others) — measuring anyway`);
      }
      const meter = new CpuMeter(processTree(server.pid));
      const r = await fn(meter);
      const cpu = meter.stop();
      const lat = r.latency ? `p50 ${fmtUs(r.latency.p50)} p99 ${fmtUs(r.latency.p99)}` : '';
      this.log(`  ${what}: ${fmtRps(r.rps)} rps ${lat} | server ${cpu.serverCores.toFixed(2)} cores, generator ${cpu.generatorCores.toFixed(2)}, others ${cpu.otherCores.toFixed(2)}${r.errors ? ` | ${r.errors} ERRORS` : ''}`);
      if (repeatable && attempt === 0 && cpu.otherCores >= 0.3 && this.#noisyRetries > 0 && !this.opt.quick) {
        this.#noisyRetries--;
        this.log('  other processes were busy during that run: repeating it');
        continue;
      }
      if (r.errors > 0) this.warnings.push(`${what}: ${r.errors} of ${r.requests} requests failed or got an unexpected status`);
      return { ...r, cpu, waitedMs };
    }
  }

  /**
   * Every side back to back, `rounds` times, the order rotating each round (A B C, B C A, …) so drift hits all alike.
   * Returns one summary per side, in the order given.
   */
  async compare(label: string, sides: readonly Side[], repeatable = true): Promise<Summary[]> {
    const runs: Measured[][] = sides.map(() => []);
    for (let r = 0; r < this.opt.rounds; r++) {
      for (let k = 0; k < sides.length; k++) {
        const i = (k + r) % sides.length;
        const s = sides[i]!;
        runs[i]!.push(await this.measure(s.child, `${label} ${s.label} #${r + 1}`, (m) => s.run(m, r), repeatable));
      }
    }
    return runs.map((x) => summarize(x));
  }

  /** Target and floor back to back (F T, T F, …). */
  async sideBySide(target: Omit<Side, 'label'>, floor: Omit<Side, 'label'>, label: string, repeatable = true): Promise<{ target: Summary; floor: Summary }> {
    const [f, t] = await this.compare(label, [{ label: 'floor', ...floor }, { label: 'portcullis', ...target }], repeatable);
    return { target: t!, floor: f! };
  }

  async startPortcullis(name: string, o: StartOptions = {}): Promise<PortcullisInstance> {
    const grpcPort = await freePort();
    let httpPort = await freePort();
    while (httpPort === grpcPort) httpPort = await freePort();
    const entry = o.entry ?? this.opt.entry;
    const doc = configDoc(this.keys, { grpc: grpcPort, http: httpPort }, { ...this.opt.extraConfig, ...o.extra });
    const file = this.outPath(`${name}.config.json`);
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const profDir = this.opt.cpuProf ? this.outPath('prof', name) : undefined;
    if (profDir) mkdirSync(profDir, { recursive: true });
    const child = await spawnChild({
      name,
      script: entry === 'main' ? join(REPO, 'src/main.ts') : join(BENCH_DIR, 'server.ts'),
      args: entry === 'main' ? ['--config', file] : [file],
      ...(o.env ? { env: o.env } : {}),
      ...(o.replaceEnv ? { replaceEnv: true } : {}),
      nodeArgs: [...this.opt.nodeFlags, ...(o.nodeArgs ?? []), ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
      ready: entry === 'main' ? { url: `http://127.0.0.1:${httpPort}/readyz` } : { line: true },
    });
    this.children.push(child);
    return { child, grpcPort, httpPort, profDir };
  }

  async startFloor(kind: FloorKind, o: GrpcFloorOptions | HttpFloorOptions | VerifyFloorOptions, name: string = kind): Promise<Child> {
    const file = this.outPath(`floor-${name}.json`);
    writeFileSync(file, JSON.stringify(o));
    const child = await spawnChild({ name: `floor-${name}`, script: join(BENCH_DIR, 'floors.ts'), args: [kind, file], ready: { line: true } });
    this.children.push(child);
    return child;
  }

  /**
   * Runs a bench script (`node bench/<file> ...args`) in its own process to its end and returns the JSON of the last
   * line it printed: for the in-process measurements (micro, dpop) and the scripts that start their own servers
   * (replay), so none of them shares this process.
   */
  script<T>(file: string, args: readonly string[]): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      const proc = execFile(process.execPath, ['--no-warnings', join(BENCH_DIR, file), ...args], { maxBuffer: 16 << 20, cwd: REPO }, (e, stdout, stderr) => {
        this.#scripts.delete(proc);
        if (e) return reject(new Error(`${file} ${args.join(' ')}: ${e.message}\n${stderr.slice(-2000)}`));
        try {
          resolvePromise(JSON.parse(stdout.trim().split('\n').pop()!) as T);
        } catch {
          reject(new Error(`${file}: its last line is not JSON:\n${stdout.slice(-2000)}`));
        }
      });
      this.#scripts.add(proc);
    });
  }

  async stopChild(c: Child): Promise<void> {
    await c.stop();
    const i = this.children.indexOf(c);
    if (i >= 0) this.children.splice(i, 1);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stopChild(c)));
  }

  /** On the way out after a failure: no child may outlive the bench. */
  kill(): void {
    for (const c of this.children) c.proc.kill('SIGKILL');
    for (const p of this.#scripts) p.kill('SIGKILL');
  }
}
