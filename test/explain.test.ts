/**
 * `portcullis explain` as operators run it: the real command (`node src/main.ts explain …`, what `npm start -- explain`
 * runs) as a child process, with a config whose keys come from a jwks_file. For every deny reason it must name the
 * failing check in plain words and the stable reason code, and exit 1; an allow exits 0 and shows the identity
 * headers; usage and config errors exit 2. The token never appears in what it prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forge, jwksOf, makeKey, NOW_S, signToken, type TestKey } from './support/tokens.ts';

const MAIN = join(import.meta.dirname, '../src/main.ts');
const ISSUER = 'https://idp.test/';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function explain(args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.PORTCULLIS_CONFIG;
    const child = spawn(process.execPath, [MAIN, 'explain', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`explain did not finish in 15 s:\n${stdout}\n${stderr}`));
    }, 15_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin ?? '');
  });
}

let dir: string;
let config: string;
let key: TestKey;
let rsaKey: TestKey;
let stranger: TestKey;
let impostor: TestKey;
const now = Math.floor(Date.now() / 1000);
/** Valid now (real time: explain decides at the real clock unless --at says otherwise). */
const claims = (extra: Record<string, unknown> = {}) => ({ iat: now - 60, exp: now + 600, ...extra });

beforeAll(async () => {
  [key, rsaKey, stranger, impostor] = await Promise.all([makeKey('ES256', 'k1'), makeKey('RS256', 'k1'), makeKey('ES256', 'k9'), makeKey('ES256', 'k1')]);
  dir = mkdtempSync(join(tmpdir(), 'portcullis-explain-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  config = join(dir, 'portcullis.yaml');
  writeFileSync(config, `
issuers:
  - issuer: "${ISSUER}"
    jwks_file: jwks.json
    audiences: ["api.test"]
    algorithms: [ES256]
identity_headers: { sub: x-auth-subject, email: x-auth-email }
login: { url: "https://login.test/start?rd={return_url}", return_hosts: ["app.test"] }
routes:
  - name: admin
    match: { paths: ["/admin/**"] }
    require: { scopes: [admin] }
  - name: ops
    match: { paths: ["/ops/**"] }
    require: { claims: { department: { equals: ops } } }
  - name: cel
    match: { paths: ["/cel/**"] }
    require: { when: '"admin" in claims.roles && request.method == "GET"' }
  - name: home
    match: { paths: ["/", "/news/**"] }
    anonymous: optional
  - name: tenants
    match: { paths: ["/tenants/**"] }
    identity_headers: { tenant: x-auth-tenant }
`);
  writeFileSync(join(dir, 'down.yaml'), `
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "http://127.0.0.1:9/jwks.json"
    audiences: ["api.test"]
`);
  writeFileSync(join(dir, 'bad.yaml'), 'issuers:\n  - issuer: x\n    leeway: 60\n');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Neither the token nor any part that could be reassembled into it (its signature) may be printed. */
function expectNoToken(run: Run, token: string | undefined): void {
  if (token === undefined || token === '') return;
  const all = run.stdout + run.stderr;
  expect(all).not.toContain(token);
  const signature = token.split('.')[2];
  if (signature !== undefined && signature.length > 8) expect(all).not.toContain(signature);
}

interface DenyCase {
  readonly reason: string;
  readonly token: () => Promise<string | undefined> | string | undefined;
  readonly path?: string;
  readonly status: number;
  /** The failing check, as printed: "✘ <check>: <detail>". */
  readonly failed: RegExp;
  /**
   * A check before it that failed without deciding (an ambiguous path is only refused once routes depend on it), or
   * the requirement's own condition line before its verdict.
   */
  readonly earlier?: RegExp;
}

const DENIES: readonly DenyCase[] = [
  { reason: 'token_missing', token: () => undefined, status: 401, failed: /✘ token: no token in the request/ },
  { reason: 'token_malformed', token: () => 'abc.def', status: 401, failed: /✘ token shape: / },
  { reason: 'issuer_unknown', token: () => signToken(key, claims({ iss: 'https://evil.test/' })), status: 401, failed: /✘ issuer: issuer "https:\/\/evil\.test\/" is not trusted \(trusted: https:\/\/idp\.test\/\)/ },
  { reason: 'algorithm_not_allowed', token: () => signToken(rsaKey, claims()), status: 401, failed: /✘ algorithm: algorithm "RS256" is not allowed for this issuer \(allowed: ES256\)/ },
  { reason: 'key_unknown', token: () => signToken(stranger, claims()), status: 401, failed: /✘ key: / },
  { reason: 'signature_invalid', token: () => signToken(impostor, claims()), status: 401, failed: /✘ signature: signature verification failed/ },
  { reason: 'token_expired', token: () => signToken(key, claims({ iat: now - 7200, exp: now - 3600 })), status: 401, failed: /✘ claim exp: token expired at / },
  {
    reason: 'audience_mismatch',
    token: () => signToken(key, claims({ aud: 'other.test' })),
    status: 401,
    failed: /✘ claim aud: audience mismatch: expected one of \["api\.test"\], got \["other\.test"\]/,
  },
  // Each condition of the requirement is a line of its own before the verdict (require.* then requirements).
  { reason: 'scope_missing', token: () => signToken(key, claims({ scope: 'read' })), path: '/admin/users', status: 403, failed: /✘ requirements: missing scope: admin/, earlier: /✘ require\.scopes: missing scope: admin/ },
  {
    reason: 'requirement_not_met',
    token: () => signToken(key, claims({ department: 'sales' })),
    path: '/ops/deploys',
    status: 403,
    failed: /✘ requirements: claim "department" must equal "ops"/,
    earlier: /✘ require\.claims\.department: claim "department" must equal "ops"/,
  },
  {
    reason: 'requirement_not_met',
    token: () => signToken(key, claims({ roles: ['dev'] })),
    path: '/cel/x',
    status: 403,
    failed: /✘ requirements: when "\\"admin\\" in claims\.roles && request\.method == \\"GET\\"" is false/,
    earlier: /✘ require\.when: when "\\"admin\\" in claims\.roles && request\.method == \\"GET\\"" is false/,
  },
  {
    reason: 'path_ambiguous',
    token: () => signToken(key, claims({ scope: 'admin' })),
    path: '/admin%2Fusers',
    status: 403,
    failed: /✘ route: the path is ambiguous/,
    earlier: /✘ path: cannot be normalized unambiguously/,
  },
];

describe('portcullis explain: each deny reason names the failing check and exits 1', () => {
  it.concurrent.each(DENIES)('$reason', async ({ reason, token, path, status, failed, earlier }) => {
    const t = await token();
    const run = await explain(['--config', config, '--host', 'app.test', '--path', path ?? '/orders', ...(t !== undefined ? [t] : [])]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(failed);
    expect(run.stdout).toMatch(new RegExp(`^decision: DENY ${status} ${reason}: `, 'm'));
    // Only the last check failed: explain stops where the decision was made.
    const checks = run.stdout.split('\n').filter((l) => /^ {2}[✔✘] /.test(l));
    expect(checks.at(-1)).toMatch(failed);
    expect(checks.slice(0, -1).filter((l) => !l.startsWith('  ✔'))).toEqual(earlier ? [expect.stringMatching(earlier)] : []);
    expectNoToken(run, t);
  });

  it('shows the challenge a 401 carries and the scope a 403 names', async () => {
    const expired = await signToken(key, claims({ iat: now - 7200, exp: now - 3600 }));
    const r401 = await explain(['--config', config, '--path', '/orders', expired]);
    expect(r401.stdout).toMatch(/^ {2}WWW-Authenticate: Bearer realm="portcullis", error="invalid_token", error_description="token expired at /m);
    const r403 = await explain(['--config', config, '--path', '/admin/x', await signToken(key, claims())]);
    expect(r403.stdout).toContain('WWW-Authenticate: Bearer realm="portcullis", error="insufficient_scope", error_description="missing scope: admin", scope="admin"');
  });

  it('shows the login redirect a browser would get, with its Location', async () => {
    const run = await explain(['--config', config, '--host', 'app.test', '--path', '/orders?id=7', '--header', 'Accept: text/html']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^decision: DENY 302 token_missing: /m);
    expect(run.stdout).toContain(`Location: https://login.test/start?rd=${encodeURIComponent('https://app.test/orders?id=7')}`);
    expect(run.stdout).toContain('header accept: "text/html"');
  });

  it('says so when the keys cannot be loaded, and denies keys_unavailable', async () => {
    const t = await signToken(key, claims());
    const run = await explain(['--config', join(dir, 'down.yaml'), t]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✘ https:\/\/idp\.test\/: keys unavailable from http:\/\/127\.0\.0\.1:9\/jwks\.json: /);
    expect(run.stdout).toMatch(/^decision: DENY 503 keys_unavailable: /m);
    expectNoToken(run, t);
  });
});

describe('portcullis explain: allows (exit 0), stdin, --at, forged tokens', () => {
  it('lists every check passed, the rule and the identity headers the upstream would get', async () => {
    const t = await signToken(key, claims({ scope: 'admin', email: 'alice@example.test' }));
    const run = await explain(['--config', config, '--host', 'app.test', '--path', '/admin/users', t]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    for (const check of ['path', 'route', 'token', 'token shape', 'issuer', 'algorithm', 'key', 'signature', 'claim exp', 'claim aud', 'requirements']) {
      expect(run.stdout).toMatch(new RegExp(`^ {2}✔ ${check}: `, 'm'));
    }
    expect(run.stdout).not.toContain('✘');
    expect(run.stdout).toContain('✔ https://idp.test/: 1 key (k1) from file:');
    expect(run.stdout).toMatch(/^decision: ALLOW \(token_valid\), rule admin, issuer https:\/\/idp\.test\/$/m);
    expect(run.stdout).toContain('x-auth-subject: "alice"');
    expect(run.stdout).toContain('x-auth-email: "alice@example.test"');
    expect(run.stdout).toMatch(/x-auth-tenant: \(not set/);
    expect(run.stdout).toMatch(/token: \d+ bytes in authorization header, fingerprint [0-9a-f]{12} /);
    expectNoToken(run, t);
  });

  it('explains an anonymous-optional route without a token', async () => {
    const run = await explain(['--config', config, '--path', '/news/today']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('✔ token: none sent; this rule allows anonymous requests');
    expect(run.stdout).toMatch(/^decision: ALLOW \(anonymous\), rule home/m);
  });

  it('reads the token from stdin with "-"', async () => {
    const t = await signToken(key, claims());
    const run = await explain(['--config', config, '--path', '/orders', '-'], `${t}\n`);
    expect(run.code).toBe(0);
    expectNoToken(run, t);
  });

  it('decides at another time with --at (here the fixed time the test tokens are signed for)', async () => {
    const t = await signToken(key); // iat/exp around NOW_S, which is not now
    const later = await explain(['--config', config, '--path', '/orders', t]);
    expect(later.code).toBe(1);
    const atThen = await explain(['--config', config, '--path', '/orders', '--at', String(NOW_S), t]);
    expect(atThen.code, atThen.stdout).toBe(0);
    expect(atThen.stdout).toContain(`time: ${new Date(NOW_S * 1000).toISOString()}`);
  });

  it('runs a forged alg:none token through the same checks and shows where it stops', async () => {
    const t = forge({ alg: 'none', typ: 'JWT' }, { iss: ISSUER, aud: 'api.test', exp: now + 600 }, { hmacSecret: 'x' });
    const run = await explain(['--config', config, t]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('✔ token shape: compact JWS, alg none, no kid');
    expect(run.stdout).toMatch(/^decision: DENY 401 algorithm_not_allowed: algorithm "none" is not allowed/m);
    expectNoToken(run, t);
  });
});

describe('portcullis explain: usage and config errors exit 2', () => {
  it.concurrent.each([
    ['no --config', [], /--config FILE is required/],
    ['an unknown option', ['--config', 'x.yaml', '--nope'], /Unknown option '--nope'/],
    ['two tokens', ['--config', 'x.yaml', 'a', 'b'], /expected at most one TOKEN/],
    ['a bad header', ['--config', 'x.yaml', '--header', 'no colon'], /--header "no colon" must look like 'Name: value'/],
    ['a bad method', ['--config', 'x.yaml', '--method', 'GET /'], /is not an HTTP method/],
    ['a bad --at', ['--config', 'x.yaml', '--at', 'yesterday'], /is not a time/],
    ['a missing config file', ['--config', '/nonexistent/portcullis.yaml'], /cannot read the file: ENOENT/],
  ] as const)('%s', async (_name, args, says) => {
    const run = await explain(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(says);
  });

  it('lists every config problem by path', async () => {
    const run = await explain(['--config', join(dir, 'bad.yaml')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('issuers[0].leeway: must be a duration');
    expect(run.stderr).toContain('issuers[0].audiences: required');
  });

  it('prints its usage with --help and exits 0', async () => {
    const run = await explain(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('usage: portcullis explain --config FILE');
  });
});
