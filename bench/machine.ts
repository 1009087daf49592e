/** Machine facts for the report, and CPU accounting from /proc/stat so every run can say how busy the machine was. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { treeCpuMs } from './procs.ts';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly date: string;
  readonly commit: string;
}

export function machineInfo(repoDir: string): MachineInfo {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  let commit = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoDir, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoDir, encoding: 'utf8' }).trim() !== '';
    commit = dirty ? `${head} + uncommitted src/ changes` : head;
  } catch {
    // not a checkout
  }
  return {
    cpu,
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit,
  };
}

/** Busy and total jiffies over all CPUs (USER_HZ = 100). */
function procStat(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

export interface CpuWindow {
  /** Cores the server process tree used on average. */
  readonly serverCores: number;
  /** Cores the load generator used (an external tool, or this process for the Node clients). */
  readonly generatorCores: number;
  /** Cores everything else on the machine used: other people's tests, the floors idling, the kernel. */
  readonly otherCores: number;
}

/**
 * Accounts CPU over one run: the server tree, the generator (external pid sampled while it lives, or this process),
 * and the rest of the machine. Samples every 200 ms so an external tool's CPU is known up to its last 200 ms.
 */
export class CpuMeter {
  readonly #serverPids: readonly number[];
  readonly #t0 = performance.now();
  readonly #stat0 = procStat();
  readonly #server0: number;
  readonly #self0 = process.cpuUsage();
  /** External generator processes: CPU at their first and last sample. */
  readonly #gens = new Map<number, { first: number; last: number }>();
  readonly #timer: NodeJS.Timeout;
  readonly #onSample: (() => void) | undefined;

  constructor(serverPids: readonly number[], onSample?: () => void) {
    this.#serverPids = serverPids;
    this.#server0 = treeCpuMs(serverPids);
    this.#onSample = onSample;
    this.#timer = setInterval(() => this.#sample(), 200);
  }

  /** An external generator process, once spawned (there may be several). */
  generator(pid: number): void {
    const v = treeCpuMs([pid]);
    this.#gens.set(pid, { first: v, last: v });
  }

  #sample(): void {
    for (const [pid, g] of this.#gens) {
      const v = treeCpuMs([pid]);
      if (v > 0) g.last = v;
    }
    this.#onSample?.();
  }

  stop(): CpuWindow {
    this.#sample();
    clearInterval(this.#timer);
    const seconds = (performance.now() - this.#t0) / 1000;
    const stat = procStat();
    const busyMs = (stat.busy - this.#stat0.busy) * 10;
    const serverMs = treeCpuMs(this.#serverPids) - this.#server0;
    const self = process.cpuUsage(this.#self0);
    const selfMs = (self.user + self.system) / 1000;
    const external = this.#gens.size > 0;
    const genMs = external ? [...this.#gens.values()].reduce((a, g) => a + g.last - g.first, 0) : selfMs;
    const otherMs = Math.max(0, busyMs - serverMs - genMs - (external ? selfMs : 0));
    const c = (x: number): number => x / 1000 / seconds;
    return { serverCores: c(serverMs), generatorCores: c(genMs), otherCores: c(otherMs) };
  }
}

/** Waits (up to `maxMs`) until the rest of the machine uses less than `threshold` cores over a 500 ms window. */
export async function waitQuiet(maxMs: number, threshold = 0.25): Promise<{ waitedMs: number; busyCores: number }> {
  const start = performance.now();
  let busyCores = 0;
  for (;;) {
    const a = procStat();
    const self0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 500));
    const b = procStat();
    const self = process.cpuUsage(self0);
    busyCores = Math.max(0, ((b.busy - a.busy) * 10 - (self.user + self.system) / 1000) / 500);
    const waitedMs = performance.now() - start;
    if (busyCores < threshold || waitedMs >= maxMs) return { waitedMs, busyCores };
    await new Promise((r) => setTimeout(r, 1000));
  }
}
