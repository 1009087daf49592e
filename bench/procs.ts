/**
 * Child processes (servers under test, floors), free ports, and memory read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Last lines of stderr, for error messages. */
  stderrTail(): string;
  stop(): Promise<void>;
  /**
   * The child's process.memoryUsage() over IPC (bench/server.ts and bench/floors.ts answer), or undefined.
   * `gc`: run a full collection first when the child was started with --expose-gc.
   */
  memory(gc?: boolean): Promise<(NodeJS.MemoryUsage & { collected: boolean }) | undefined>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Use `env` as the whole environment instead of adding it to this process' environment. */
  readonly replaceEnv?: boolean;
  readonly nodeArgs?: readonly string[];
  /** How the child says it is ready: a `{"ready":true}` line on stdout, or /readyz answering 200 on this URL. */
  readonly ready: { readonly line: true } | { readonly url: string };
  readonly timeoutMs?: number;
}

export async function spawnChild(o: SpawnOptions): Promise<Child> {
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), '--no-warnings', o.script, ...o.args], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: o.replaceEnv ? o.env : { ...process.env, ...o.env },
  });
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  let stdout = '';
  proc.stdout!.setEncoding('utf8');
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => proc.once('exit', () => {
    exited = true;
    resolve();
  }));
  const readyLine = new Promise<void>((resolve) => {
    proc.stdout!.on('data', (d: string) => {
      stdout = (stdout + d).slice(-100_000);
      if (/^\{"ready":true/m.test(stdout)) resolve();
    });
  });
  const timeoutMs = o.timeoutMs ?? 30_000;
  const ready = 'line' in o.ready ? readyLine : pollReady(o.ready.url, timeoutMs);
  const failed = exitPromise.then(() => {
    throw new Error(`${o.name} exited before it was ready:\n${stderr || stdout}`);
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${o.name} not ready after ${timeoutMs} ms:\n${stderr || stdout}`)), timeoutMs);
  });
  try {
    await Promise.race([ready, failed, timeout]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
  failed.catch(() => {});
  return {
    name: o.name,
    proc,
    pid: proc.pid!,
    stderrTail: () => stderr,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      await exitPromise;
      clearTimeout(t);
    },
    memory(gc = false) {
      if (exited || !proc.connected) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          proc.off('message', on);
          resolve(undefined);
        }, 2000);
        const on = (m: { type?: string; memory?: NodeJS.MemoryUsage; collected?: boolean }): void => {
          if (m?.type !== 'stats') return;
          clearTimeout(t);
          proc.off('message', on);
          resolve(m.memory ? { ...m.memory, collected: m.collected === true } : undefined);
        };
        proc.on('message', on);
        proc.send({ type: 'stats', gc });
      });
    },
  };
}

/** Polls `url` until it answers 200 (every `everyMs`: small where the time to ready is what is measured). */
export async function pollReady(url: string, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const status = await new Promise<number>((resolve) => {
      const req = request(url, { method: 'GET', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.setTimeout(1000, () => req.destroy());
      req.end();
    });
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- memory from /proc

/** kB values of VmRSS / VmHWM for one pid; undefined once it is gone. */
export function procMemory(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return { rssKb: Number(rss?.[1] ?? 0), hwmKb: Number(hwm?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it (cluster workers run as child processes). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Sums RSS and high-water marks over a process tree (an upper bound for the tree's peak: the peaks need not coincide). */
export function treeMemory(pids: readonly number[]): { rssKb: number; hwmKb: number; processes: number } {
  let rssKb = 0;
  let hwmKb = 0;
  let processes = 0;
  for (const pid of pids) {
    const m = procMemory(pid);
    if (!m) continue;
    rssKb += m.rssKb;
    hwmKb += m.hwmKb;
    processes++;
  }
  return { rssKb, hwmKb, processes };
}

/** CPU time (user+system, ms) a process tree has used so far, from /proc/PID/stat. */
export function treeCpuMs(pids: readonly number[]): number {
  const tick = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return (ticks * 1000) / tick;
}
