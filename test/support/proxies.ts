/**
 * Real caddy and nginx as child processes, configured from the files in deploy/ and pointed at a given Portcullis
 * HTTP listener and upstream, on free loopback ports. Each proxy runs in its own process group with its own temp dir
 * (config, pid, logs, nginx temp paths, Caddy HOME/XDG dirs) and is killed as a group on stop() — and, as a last
 * resort, when the test process exits.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export type ProxyName = 'caddy' | 'nginx';

export interface ProxyTargets {
  /** Portcullis HTTP listener, "127.0.0.1:port" (forward-auth path /auth). */
  readonly authAddress: string;
  /** The protected app, "127.0.0.1:port". */
  readonly upstreamAddress: string;
  /**
   * Extra host names the site answers to besides 127.0.0.1 (clients then send `Host: name:port`). Caddy matches a
   * site by Host, so they are added to its site address; nginx's only server answers every Host anyway.
   */
  readonly hosts?: readonly string[];
  /** Config file under deploy/ (default caddy/Caddyfile or nginx/nginx.conf), e.g. caddy/Caddyfile.signin. */
  readonly config?: string;
  /** Listen on this port (a test that must know it before the proxy starts, e.g. for OAuth redirect URIs). */
  readonly port?: number;
  /** Caddy only: answer every Host on the port (site address "http://:port"), as an outbound proxy must. */
  readonly anyHost?: boolean;
  /**
   * Serve HTTPS asking for client certificates (deploy/caddy/Caddyfile.mtls, deploy/nginx/nginx.mtls.conf): the
   * server certificate and key files, and the CA file client certificates must chain to.
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa: string };
}

export interface RunningProxy {
  readonly name: ProxyName;
  readonly port: number;
  /** "http://127.0.0.1:port" ("https://…" with `tls`) */
  readonly url: string;
  /** The proxy's recent stdout/stderr, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const DEPLOY = new URL('../../deploy/', import.meta.url);
const CADDY = process.env['PORTCULLIS_TEST_CADDY'] ?? 'caddy';
const NGINX = process.env['PORTCULLIS_TEST_NGINX'] ?? 'nginx';
const OUTPUT_LIMIT = 64 * 1024;

/** Process groups still running; killed synchronously if the test process exits first. */
const live = new Set<number>();
process.once('exit', () => {
  for (const pgid of live) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

export function startProxy(name: ProxyName, targets: ProxyTargets): Promise<RunningProxy> {
  return name === 'caddy' ? startCaddy(targets) : startNginx(targets);
}

export async function startCaddy(targets: ProxyTargets): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-caddy-'));
  const config = join(dir, 'Caddyfile');
  await writeFile(config, await readFile(new URL(targets.config ?? 'caddy/Caddyfile', DEPLOY)));
  const port = targets.port ?? (await freePort());
  // deploy/caddy/Caddyfile takes its addresses from environment placeholders; nothing is rewritten.
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'), // 2.6.2 has no persist_config option: its autosave lands here
    XDG_DATA_HOME: join(dir, 'data'),
    CADDY_ADMIN: 'off',
    // Several site addresses: Caddy 2.6.2 substitutes {$VAR} before parsing, so ", " separates addresses.
    PORTCULLIS_SITE: targets.anyHost ? `http://:${port}` : ['127.0.0.1', ...(targets.hosts ?? [])].map((host) => `${targets.tls ? 'https' : 'http'}://${host}:${port}`).join(', '),
    ...(targets.tls ? { PORTCULLIS_TLS_CERT: targets.tls.cert, PORTCULLIS_TLS_KEY: targets.tls.key, PORTCULLIS_CLIENT_CA: targets.tls.clientCa } : {}),
    PORTCULLIS_HTTP: targets.authAddress,
    PORTCULLIS_UPSTREAM: targets.upstreamAddress,
  };
  return run('caddy', CADDY, ['run', '--config', config, '--adapter', 'caddyfile'], { dir, env, port, tls: targets.tls !== undefined });
}

/** deploy/nginx/nginx.conf with its three addresses replaced and per-test temp/log paths added. */
export function renderNginxConfig(template: string, targets: ProxyTargets & { port: number; dir: string }): string {
  const replaceOnce = (text: string, from: string, to: string): string => {
    const parts = text.split(from);
    if (parts.length !== 2) throw new Error(`deploy/nginx/nginx.conf: expected "${from}" exactly once`);
    return parts.join(to);
  };
  let text = replaceOnce(template, 'server 127.0.0.1:9002;', `server ${targets.authAddress};`);
  text = replaceOnce(text, 'server 127.0.0.1:8080;', `server ${targets.upstreamAddress};`);
  if (targets.tls === undefined) text = replaceOnce(text, 'listen 8000;', `listen 127.0.0.1:${targets.port};`);
  else {
    text = replaceOnce(text, 'listen 8443 ssl;', `listen 127.0.0.1:${targets.port} ssl;`);
    text = replaceOnce(text, '/etc/nginx/portcullis/server.pem;', `${targets.tls.cert};`);
    text = replaceOnce(text, '/etc/nginx/portcullis/server.key;', `${targets.tls.key};`);
    text = replaceOnce(text, '/etc/nginx/portcullis/client-ca.pem;', `${targets.tls.clientCa};`);
  }
  const paths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `\t${kind}_temp_path ${join(targets.dir, kind)};`)
    .join('\n');
  return replaceOnce(text, 'http {', `http {\n${paths}\n\taccess_log ${join(targets.dir, 'access.log')};`);
}

export async function startNginx(targets: ProxyTargets): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-nginx-'));
  // nginx's workers drop to `nobody` when we run as root; they must be able to reach their temp paths.
  await chmod(dir, 0o755);
  const port = targets.port ?? (await freePort());
  const config = join(dir, 'nginx.conf');
  const template = await readFile(new URL(targets.config ?? 'nginx/nginx.conf', DEPLOY), 'utf8');
  await writeFile(config, renderNginxConfig(template, { ...targets, port, dir }));
  const args = ['-p', `${dir}/`, '-c', config, '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`];
  return run('nginx', NGINX, args, { dir, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, port, tls: targets.tls !== undefined });
}

async function run(
  name: ProxyName,
  command: string,
  args: string[],
  opts: { dir: string; env: NodeJS.ProcessEnv; port: number; tls?: boolean },
): Promise<RunningProxy> {
  let output = '';
  const child: ChildProcess = spawn(command, args, {
    cwd: opts.dir,
    env: opts.env,
    detached: true, // own process group: stop() kills nginx's workers too
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pgid = child.pid;
  if (pgid !== undefined) live.add(pgid);

  const stop = async (): Promise<void> => {
    if (pgid !== undefined && child.exitCode === null && child.signalCode === null) {
      killGroup(pgid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pgid, 'SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
      killGroup(pgid, 'SIGKILL'); // leftover workers, if any
    }
    if (pgid !== undefined) live.delete(pgid);
    await rm(opts.dir, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      exited.then(() => reject(new Error(`${name} exited before listening`)), reject);
      waitForPort(opts.port).then(resolve, reject);
    });
  } catch (err) {
    await stop();
    throw new Error(`${name} did not start: ${(err as Error).message}\n${output}`);
  }
  return { name, port: opts.port, url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${opts.port}`, output: () => output, stop };
}
