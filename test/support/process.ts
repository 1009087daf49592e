/**
 * `node src/main.ts` as a real child process (what `npm start` runs), for the lifecycle tests: its output is
 * collected, lines can be awaited, and signals sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { TestKey } from './tokens.ts';

const MAIN = join(import.meta.dirname, '../../src/main.ts');

export interface MainProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once the output holds `count` occurrences of `text` (rejects after `timeoutMs` or on exit). */
  waitFor(text: string, count?: number, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  kill(): void;
}

export function startMain(args: string[]): MainProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTCULLIS_CONFIG: '' } });
  let out = '';
  const waiters = new Set<() => void>();
  const grow = (d: Buffer): void => {
    out += d;
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', grow);
  child.stderr!.on('data', grow);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    for (const w of [...waiters]) w();
    resolve(code);
  }));
  const occurrences = (text: string): number => out.split(text).length - 1;
  return {
    child,
    output: () => out,
    exited,
    waitFor(text, count = 1, timeoutMs = 45_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (occurrences(text) >= count) {
            done();
            resolve();
          } else if (child.exitCode !== null) {
            done();
            reject(new Error(`exited ${child.exitCode} before ${count}× ${text}:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${count}× ${text} within ${timeoutMs} ms:\n${out}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** A token valid now (real clock) for `iss`/`aud`. */
export function liveToken(key: TestKey, iss: string, aud: string, sub = 'alice'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss, aud, sub, iat: now - 10, exp: now + 3600 }).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One forward-auth style GET on a NEW connection (so node:cluster spreads them over the workers). */
export function getOnce(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The CheckRequest Envoy sends for GET api.test<path> (default /orders) with these headers. */
export function checkRequest(headers: Record<string, string>, path = '/orders'): object {
  return {
    attributes: {
      request: {
        http: { id: '1', method: 'GET', host: 'api.test', scheme: 'https', path, protocol: 'HTTP/1.1', headers: { ':authority': 'api.test', ':method': 'GET', ':path': path, ...headers } },
      },
    },
  };
}

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the whole run. */
  readonly ms: number;
}

/**
 * One run of the real CLI (`node src/main.ts ARGS…`, what `npm start -- ARGS…` and `npx portcullis` run), to its exit:
 * stdout, stderr, exit code and wall time. PORTCULLIS_CONFIG is cleared so only the arguments choose the config.
 */
export function runCli(args: readonly string[], opts: { cwd?: string; timeoutMs?: number; bin?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.PORTCULLIS_CONFIG;
    const started = Date.now();
    const child = spawn(process.execPath, [opts.bin ?? MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`portcullis ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 20_000} ms:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
