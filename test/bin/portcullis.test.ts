/**
 * The launcher (bin/portcullis.js, what `npm start` and `npx portcullis` run) and the rule it follows
 * (scripts/dist.js): dist/ runs only when it was built, by scripts/build.js, from src/ exactly as it is now;
 * otherwise src/main.ts runs, with a warning when a dist/ was there but stale. Each case works on a copy of the
 * repo's files in a temporary directory (node_modules linked), so the worktree's own dist/ is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/dockerfile.ts';
import { freePorts } from '../support/ports.ts';
import { AUDIENCE, ISSUER, makeKey } from '../support/tokens.ts';

const COPIED = ['bin', 'scripts', 'src', 'proto', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
/** Stands in for dist/main.js when a case only asks which entry the launcher chose. */
const MARKER = "process.stdout.write('ran dist/main.js\\n');\n";

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function copyRepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'portcullis-launcher-'));
  roots.push(root);
  for (const entry of COPIED) cpSync(join(REPO_ROOT, entry), join(root, entry), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  return root;
}

const run = (root: string, script: string, args: string[] = []) =>
  spawnSync(process.execPath, [join(root, script), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PORTCULLIS_CONFIG: '' } });

const build = (root: string) => {
  const r = run(root, 'scripts/build.js');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
};

/** Which entry `node bin/portcullis.js --help` ran, and what it said on stderr. */
function launch(root: string): { ran: 'dist' | 'src'; stderr: string } {
  const r = run(root, 'bin/portcullis.js', ['--help']);
  expect(r.status).toBe(0);
  if (r.stdout === 'ran dist/main.js\n') return { ran: 'dist', stderr: r.stderr };
  expect(r.stdout).toMatch(/^usage: portcullis/);
  return { ran: 'src', stderr: r.stderr };
}

describe('the launcher', () => {
  let built: string;
  beforeAll(() => {
    built = copyRepo();
    build(built);
  }, 120_000);

  it('runs src/main.ts, quietly, on a fresh clone that was never built', () => {
    expect(launch(copyRepo())).toEqual({ ran: 'src', stderr: '' });
  });

  it('runs dist/main.js when dist/ was built from src/ as it is now', () => {
    const root = copyRepo();
    cpSync(join(built, 'dist'), join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'dist/main.js'), MARKER);
    expect(launch(root)).toEqual({ ran: 'dist', stderr: '' });
  });

  // Every way dist/ can stop matching: a source edited, added or removed, the build's config changed, a build that
  // never finished (no stamp), a stamp from elsewhere.
  const staleCases: [string, (root: string) => void][] = [
    ['a source file is edited', (root) => appendFileSync(join(root, 'src/log.ts'), '// edited\n')],
    ['a source file is added', (root) => writeFileSync(join(root, 'src/new.ts'), 'export {};\n')],
    ['a source file is removed', (root) => rmSync(join(root, 'src/demo.ts'))],
    ['tsconfig.build.json changes', (root) => appendFileSync(join(root, 'tsconfig.build.json'), '\n')],
    ['the build did not finish (no stamp)', (root) => rmSync(join(root, 'dist/.source-stamp'))],
    ['the stamp is of other sources', (root) => writeFileSync(join(root, 'dist/.source-stamp'), `sha256:${'0'.repeat(64)}\n`)],
  ];
  it.each(staleCases)('never runs a stale dist/ (%s): it runs src/main.ts and says why', (_, makeStale) => {
    const root = copyRepo();
    cpSync(join(built, 'dist'), join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'dist/main.js'), MARKER);
    makeStale(root);
    const { ran, stderr } = launch(root);
    expect(ran).toBe('src');
    expect(stderr).toMatch(/dist\/ was built from other sources .* running src\/main\.ts \(npm run build to rebuild\)/);
  });

  it('runs a stale dist/ again once `npm run build` (scripts/build.js) rebuilt it', () => {
    const root = copyRepo();
    cpSync(join(built, 'dist'), join(root, 'dist'), { recursive: true });
    appendFileSync(join(root, 'src/log.ts'), '// edited\n');
    expect(launch(root).ran).toBe('src');
    build(root);
    expect(readFileSync(join(root, 'dist/log.js'), 'utf8')).toContain('// edited');
    writeFileSync(join(root, 'dist/main.js'), MARKER);
    expect(launch(root)).toEqual({ ran: 'dist', stderr: '' });
  }, 120_000);

  it('starts the compiled service from dist/, and `workers: 2` forks run dist/main.js, not the launcher', async () => {
    const key = await makeKey('ES256', 'k1');
    const [grpc, http] = await freePorts(2);
    const config = join(built, 'config.yaml');
    writeFileSync(config, [
      `listen: { grpc: "127.0.0.1:${grpc}", http: "127.0.0.1:${http}" }`,
      'workers: 2',
      `issuers: [{ issuer: "${ISSUER}", audiences: ["${AUDIENCE}"], jwks: { keys: [${JSON.stringify(key.jwk)}] } }]`,
      '',
    ].join('\n'));
    const child = spawn(process.execPath, [join(built, 'bin/portcullis.js'), '--config', config], { cwd: built, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not started within 60 s:\n${out}`)), 60_000); // a guard: 2 shared cores
        child.stdout.on('data', () => out.includes('"portcullis started"') && (clearTimeout(timer), resolve()));
        child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
      });
      expect((await fetch(`http://127.0.0.1:${http}/readyz`)).status).toBe(200);
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ');
      expect(children.length).toBe(2);
      for (const pid of children) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1]).toBe(join(built, 'dist/main.js'));
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
  }, 90_000);
});
