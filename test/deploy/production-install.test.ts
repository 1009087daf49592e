/**
 * The image's install, reproduced without a Docker engine (none runs here): the files the Dockerfile COPYs (from
 * the tracked files, as the build context holds them) go into a clean directory; the build stage's build command
 * runs in its directory (its `npm ci --ignore-scripts` is stood in for by this repo's dev install, from the same
 * lock file: this machine has no network) and its dist/ is copied where the runtime stage copies it;
 * `npm ci --omit=dev` runs in the runtime directory (from the local npm cache), and the service starts there with
 * the image's ENTRYPOINT, a Node 24 binary (the one this repo's dev install provides, standing in for the base
 * image's node) and PORTCULLIS_CONFIG pointing at a config file, as in the container. Then it answers real gRPC Checks.
 */
import { PORTCULLIS_NODE_FLAGS } from '../../bench/startup.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { copyArgs, readDockerfile, REPO_ROOT } from '../support/dockerfile.ts';
import { freePorts } from '../support/ports.ts';
import { AUDIENCE, ISSUER, makeKey, signToken, type TestKey } from '../support/tokens.ts';

const NODE_24 = join(REPO_ROOT, 'node_modules/node/bin/node');
const WORKDIR = '/app';

let tmp: string;
let app: string;
let install: SpawnSyncReturns<string>;
let build: SpawnSyncReturns<string>;
let entrypoint: string[];
let service: ChildProcess | undefined;
let output = '';
let grpcAddress: string;
let httpUrl: string;
let client: EnvoyClient;
let key: TestKey;
let filesBefore: string[];

function trackedFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f !== '' && existsSync(join(REPO_ROOT, f)));
}

/**
 * Every `COPY <context paths> <dest>` of every stage, applied to `root` (which stands for the image's /). Returns
 * the copies from the build stage, to apply once it has built (the deps stage's /app/node_modules is the runtime's
 * own: same files, same place).
 */
function copyBuildContext(root: string): { from: string; to: string }[] {
  const tracked = trackedFiles();
  const fromBuild: { from: string; to: string }[] = [];
  for (const stage of readDockerfile().stages) {
    let workdir = '/';
    for (const { keyword, args } of stage.instructions) {
      if (keyword === 'WORKDIR') workdir = posix.resolve(workdir, args);
      if (keyword !== 'COPY') continue;
      const { flags, sources, dest } = copyArgs(args);
      const target = posix.resolve(workdir, dest);
      if (flags.includes('--from=build')) fromBuild.push(...sources.map((source) => ({ from: join(root, source), to: join(root, target) })));
      if (flags.some((f) => f.startsWith('--from'))) continue;
      for (const source of sources) {
        const under = tracked.filter((f) => f.startsWith(`${source.replace(/\/$/, '')}/`));
        if (under.length > 0) {
          for (const f of under) cpSync(join(REPO_ROOT, f), join(root, target, f.slice(source.replace(/\/$/, '').length + 1)));
        } else {
          if (!tracked.includes(source)) throw new Error(`Dockerfile COPY ${source}: not a tracked file or directory`);
          const into = dest.endsWith('/') || sources.length > 1 ? join(root, target, posix.basename(source)) : join(root, target);
          cpSync(join(REPO_ROOT, source), into);
        }
      }
    }
  }
  return fromBuild;
}

/** The build stage: its directory, and its RUN steps after the install (`npm ci`, stood in for by a link). */
function buildStage(): { dir: string; commands: string[] } {
  const stage = readDockerfile().stages.find((s) => s.name === 'build')!;
  const dir = stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)!.args;
  return { dir, commands: stage.instructions.filter((i) => i.keyword === 'RUN' && !i.args.startsWith('npm ci')).map((i) => i.args) };
}

function listFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .map((d) => join(d.parentPath, d.name).slice(dir.length))
    .sort();
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-image-'));
  app = join(tmp, 'root', WORKDIR);
  mkdirSync(app, { recursive: true });
  const fromBuild = copyBuildContext(join(tmp, 'root'));
  const stage = buildStage();
  const buildDir = join(tmp, 'root', stage.dir);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(buildDir, 'node_modules'));
  expect(stage.commands).toEqual(['node scripts/build.js']);
  build = spawnSync(NODE_24, ['scripts/build.js'], { cwd: buildDir, encoding: 'utf8', timeout: 120_000 });
  if (build.status !== 0) return;
  for (const { from, to } of fromBuild) cpSync(from, to, { recursive: true });
  entrypoint = JSON.parse(readDockerfile().stages.at(-1)!.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
  install = spawnSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 150_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (install.status !== 0) return;

  key = await makeKey('ES256', 'k1');
  const [g, h] = await freePorts(2);
  mkdirSync(join(tmp, 'etc'));
  writeFileSync(
    join(tmp, 'etc/config.yaml'),
    [
      `listen: { grpc: "127.0.0.1:${g}", http: "127.0.0.1:${h}" }`,
      'issuers:',
      `  - issuer: "${ISSUER}"`,
      `    audiences: ["${AUDIENCE}"]`,
      `    jwks: { keys: [${JSON.stringify(key.jwk)}] }`,
      '',
    ].join('\n'),
  );
  filesBefore = listFiles(app);
  // The image's environment: its own PATH (node first), PORTCULLIS_CONFIG, HOME and TMPDIR in /tmp; nothing of ours.
  expect(entrypoint[0]).toBe('node');
  service = spawn(NODE_24, entrypoint.slice(1), {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: `${dirname(NODE_24)}:/usr/bin:/bin`, PORTCULLIS_CONFIG: join(tmp, 'etc/config.yaml'), HOME: tmp, TMPDIR: tmp, NODE_ENV: 'production' },
  });
  service.stdout!.on('data', (d) => (output += d));
  service.stderr!.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60s:\n${output}`)), 60_000); // a guard, not a speed check: 2 cores are shared
    service!.stdout!.on('data', () => {
      if (output.includes('"portcullis started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    service!.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
  grpcAddress = `127.0.0.1:${g}`;
  httpUrl = `http://127.0.0.1:${h}`;
  client = connectEnvoyClient(grpcAddress, 30_000);
}, 200_000);

afterAll(() => {
  client?.close();
  if (service?.exitCode === null) service.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function check(headers: Record<string, string> = {}): Promise<any> {
  return client.check({
    attributes: { request: { http: { id: '1', method: 'GET', host: AUDIENCE, scheme: 'https', path: '/orders/7', protocol: 'HTTP/1.1', headers: { ':authority': AUDIENCE, ...headers } } } },
  });
}

describe('a production install (npm ci --omit=dev of the files the Dockerfile copies)', () => {
  it('builds dist/ in the build stage, with the stamp that lets it run', () => {
    expect(build.stderr + build.stdout).toBe('');
    expect(build.status).toBe(0);
    expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
    expect(readFileSync(join(app, 'dist/.source-stamp'), 'utf8')).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('installs from the lock file', () => {
    expect(install.stderr + install.stdout).toMatch(/added \d+ packages/);
    expect(install.status).toBe(0);
  });

  it('contains no devDependency: no vitest, no typescript, no `node` runtime package, nothing the lock file marks dev-only', () => {
    expect(['node', 'vitest', 'typescript', 'kubernetes-models'].filter((name) => existsSync(join(app, 'node_modules', name)))).toEqual([]);
    expect(existsSync(join(app, 'node_modules/.bin/node'))).toBe(false);
    // @types/node is a devDependency that protobufjs also depends on at run time: the lock file decides, not the name.
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev === true).map(([path]) => path);
    expect(devOnly.length).toBeGreaterThan(50);
    expect(devOnly.filter((path) => existsSync(join(app, path)))).toEqual([]);
    expect(existsSync(join(app, 'node_modules/yaml'))).toBe(true); // a runtime dependency did arrive
  });

  it('holds no sources, tests, benchmarks or deploy files, only what the service runs', () => {
    expect(readdirSync(app).sort()).toEqual(['dist', 'node_modules', 'package-lock.json', 'package.json', 'proto']);
    const built = readdirSync(join(app, 'dist'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
    expect(built.filter((name) => !name.endsWith('.js') && name !== '.source-stamp')).toEqual([]);
  });

  it('starts dist/main.js on Node 24 from PORTCULLIS_CONFIG and is ready', async () => {
    expect(entrypoint).toEqual(['node', ...PORTCULLIS_NODE_FLAGS, 'dist/main.js']);
    expect(spawnSync(NODE_24, ['--version'], { encoding: 'utf8' }).stdout).toMatch(/^v24\./);
    expect(output).toMatch(/"portcullis started".*"ready":true/);
    expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);
  });

  it('answers a gRPC Check: a valid token is allowed with its identity header, none is denied 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const allowed = await check({ authorization: `Bearer ${await signToken(key, { iat: now - 10, exp: now + 600 })}` });
    expect(allowed.status.code).toBe(0);
    expect(allowed.ok_response.headers.map((h: any) => [h.header.key, h.header.value])).toEqual([['x-auth-subject', 'alice']]);
    const denied = await check();
    expect(denied.status).toMatchObject({ code: 16, message: 'token_missing' });
    expect(denied.denied_response.status.code).toBe('Unauthorized');
  });

  it('writes nothing into its own directory (the image root may be read-only) and stops with exit code 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => service!.once('exit', (code) => resolve(code)));
    service!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(listFiles(app)).toEqual(filesBefore);
  }, 60_000); // SIGTERM drains first (shutdown.drain, default 5 s)
});
