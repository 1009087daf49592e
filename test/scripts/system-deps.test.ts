/**
 * scripts/system-deps.sh decides, before any test, whether the real programs the tests run are there, installs them
 * when it can (root with apt-get) and otherwise stops with the one command that installs them. Its decisions are
 * tested here in a sandbox, without installing or removing anything: PATH holds only stand-ins — the programs
 * "present", a fake `id` (root or not), and a fake `apt-get` that logs its calls and "installs" a package by putting
 * its program on that PATH. (Fakes: really installing or uninstalling packages is not something a test may do.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/dockerfile.ts';

const SCRIPT = join(REPO_ROOT, 'scripts/system-deps.sh');
const ALL = { caddy: 'caddy', 'nginx-light': 'nginx', 'redis-server': 'redis-server', chromium: 'chromium', openssl: 'openssl' } as const;
type Pkg = keyof typeof ALL;

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

interface Sandbox {
  readonly present?: readonly Pkg[];
  readonly uid: number;
  readonly aptGet?: 'works' | 'fails' | 'absent';
}

function run({ present = [], uid, aptGet = 'works' }: Sandbox) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sysdeps-'));
  dirs.push(dir);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  for (const pkg of present) script(ALL[pkg], 'exit 0');
  script('id', `[ "$1" = "-u" ] && echo ${uid}`);
  const log = join(dir, 'apt.log');
  if (aptGet !== 'absent') {
    const map = Object.entries(ALL).map(([pkg, b]) => `${pkg}) printf '#!/bin/sh\\n' > "${bin}/${b}"; /bin/chmod +x "${bin}/${b}";;`).join('\n    ');
    script(
      'apt-get',
      `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> "${log}"
[ "$1" = "install" ] || exit 0
${aptGet === 'fails' ? 'exit 100' : ''}
for a in "$@"; do
  case "$a" in
    ${map}
  esac
done`,
    );
  }
  const r = spawnSync('/bin/bash', [SCRIPT], { encoding: 'utf8', env: { PATH: bin } });
  return { status: r.status, stderr: r.stderr, apt: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
}

const everything = Object.keys(ALL) as Pkg[];

describe('scripts/system-deps.sh', () => {
  it.each([0, 1000])('does nothing when every program is on PATH (uid %i)', (uid) => {
    expect(run({ present: everything, uid })).toEqual({ status: 0, stderr: '', apt: [] });
  });

  it('as root with apt-get, installs exactly the missing packages: one update, noninteractive, no recommends', () => {
    const r = run({ present: ['caddy', 'openssl'], uid: 0 });
    expect(r.apt).toEqual([
      'DEBIAN_FRONTEND=noninteractive update',
      'DEBIAN_FRONTEND=noninteractive install -y --no-install-recommends nginx-light redis-server chromium',
    ]);
    expect(r.status).toBe(0);
  });

  it('as a non-root user, installs nothing and stops with the one command that installs the missing packages', () => {
    const r = run({ present: ['caddy', 'redis-server', 'openssl'], uid: 1000 });
    expect(r.status).toBe(1);
    expect(r.apt).toEqual([]);
    expect(r.stderr).toContain('missing here: nginx-light chromium');
    expect(r.stderr).toContain(
      "  sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light chromium'",
    );
  });

  it('as root without apt-get (not Debian/Ubuntu), stops with the command instead of guessing', () => {
    const r = run({ present: [], uid: 0, aptGet: 'absent' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends caddy nginx-light redis-server chromium openssl');
  });

  it('fails when apt-get fails, so no test runs without its programs', () => {
    const r = run({ present: everything.filter((p) => p !== 'chromium'), uid: 0, aptGet: 'fails' });
    expect(r.status).not.toBe(0);
    expect(r.apt).toEqual(['DEBIAN_FRONTEND=noninteractive update', 'DEBIAN_FRONTEND=noninteractive install -y --no-install-recommends chromium']);
  });

  it('is the one list: npm test runs it first (pretest) and .ci/run runs it before npm ci', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.pretest).toBe('bash scripts/system-deps.sh');
    const ci = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8');
    expect(ci).toContain('bash scripts/system-deps.sh');
    expect(ci.indexOf('bash scripts/system-deps.sh')).toBeLessThan(ci.indexOf('npm ci'));
    expect(ci).not.toMatch(/apt-get install/);
  });
});
