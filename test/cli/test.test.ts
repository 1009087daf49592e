/**
 * `portcullis test`, spawned as CI runs it: decision tables go through the real authorizer with each issuer's keys
 * swapped for a throwaway key, nothing is contacted (a listener that counts connections stands in for the IdP and for
 * Redis), one line per case, "N passed, M failed" last, exit 0 / 1 / 2.
 */
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../support/process.ts';
import { TestPki } from '../support/pki.ts';

const ROOT = join(import.meta.dirname, '../..');
let dir: string;
let listener: Server;
let port: number;
let connections = 0;
let config: string;
let pki: TestPki;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-test-cli-'));
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
  pki = new TestPki(Date.now());
  const root = pki.ca('root');
  // Two issuers behind a port that counts connections, an x5c issuer, a single-use route on a Redis store.
  config = file('portcullis.yaml', `
workers: 1
issuers:
  - issuer: "http://127.0.0.1:${port}/"
    jwks_uri: "http://127.0.0.1:${port}/jwks.json"
    audiences: [api, other]
    algorithms: [RS256]
  - issuer: "https://partner.test/"
    openid_configuration: "http://127.0.0.1:${port}/.well-known/openid-configuration"
    allow_insecure_http: true
    audiences: [partner-api]
  - issuer: workloads
    x5c: { roots: ["${root.pemFile}"] }
    audiences: [api]
    identity_headers_from_cert: { subject: x-cert-subject }
replay: { store: redis, redis: { url: "redis://127.0.0.1:${port}/0" } }
identity_headers: { sub: x-auth-subject, tenant: x-auth-tenant }
routes:
  - name: admin
    match: { paths: ["/admin/**"] }
    require: { scopes: [admin] }
  - name: payments
    match: { paths: ["/pay"] }
    require: { single_use: true }
  - name: partners
    match: { paths: ["/partner/**"] }
    require: { issuers: ["https://partner.test/"] }
`);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  pki.cleanup();
  await new Promise((resolve) => listener.close(resolve));
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const lines = (out: string) => out.trimEnd().split('\n');

describe('portcullis test', () => {
  it('decides every case offline through the real authorizer: defaults, null claims, issuers, x5c, single use, policies', async () => {
    const tests = file('pass.test.yaml', `
cases:
  - name: the defaults make a valid token of the first issuer (RS256, its first audience, iat now, exp in 5 minutes)
    request: { path: /orders }
    token: { claims: { sub: alice, tenant: acme } }
    expect: { decision: allow, status: 200, headers: { x-auth-subject: alice, x-auth-tenant: acme, x-cert-subject: "" } }
  - name: a claim given as null is removed
    request: { path: /orders }
    token: { claims: { sub: alice, exp: null } }
    expect: { decision: deny, status: 401, reason: claim_missing, headers: { x-auth-subject: "" } }
  - name: the other audience of the issuer
    request: { path: /orders }
    token: { claims: { sub: alice, aud: other } }
    expect: { decision: allow }
  - name: another issuer, with its own first audience
    request: { path: /partner/x }
    token: { issuer: "https://partner.test/", claims: { sub: bob } }
    expect: { decision: allow, headers: { x-auth-subject: bob } }
  - name: the partner route refuses the first issuer
    request: { path: /partner/x }
    token: { claims: { sub: alice } }
    expect: { status: 403, reason: requirement_not_met }
  - name: an x5c issuer's stand-in key signs for it
    request: { path: /orders }
    token: { issuer: workloads, claims: { sub: svc } }
    expect: { decision: allow, headers: { x-auth-subject: svc } }
  - name: an issuer the config does not know
    request: { path: /orders }
    token: { issuer: "https://evil.test/", claims: { sub: mallory } }
    expect: { status: 401, reason: issuer_unknown }
  - name: a single-use route needs a jti (the Redis store stands in as memory)
    request: { path: /pay }
    token: { claims: { sub: alice } }
    expect: { status: 401, reason: jti_missing }
  - name: a single-use token is allowed once per case
    request: { path: /pay }
    token: { claims: { sub: alice, jti: one } }
    expect: { decision: allow }
  - name: no token
    request: { path: /orders, headers: { Accept: application/json } }
    token: none
    expect: { status: 401, reason: token_missing }
  - name: a raw malformed token
    request: { path: /orders }
    token: "eyJhbGciOiJub25lIn0.e30."
    expect: { status: 401, reason: token_malformed }
  - name: an unknown Envoy policy
    request: { method: post, path: /orders }
    policy: nope
    token: { claims: { sub: alice } }
    expect: { status: 403, reason: policy_unknown }
`);
    const r = await runCli(['test', '--config', config, tests]);
    expect(r.stderr).toBe('');
    const out = lines(r.stdout);
    expect(out.slice(0, -1).every((l) => l.startsWith('✔ ')), r.stdout).toBe(true);
    expect(out).toHaveLength(13);
    expect(out.at(-1)).toBe('12 passed, 0 failed');
    expect(r.code).toBe(0);
    expect(connections).toBe(0);
  });

  it('prints each failing case with the difference, and exits 1', async () => {
    const tests = file('fail.test.yaml', `
cases:
  - name: admins pass
    request: { path: /admin/x }
    token: { claims: { sub: root, scope: admin } }
    expect: { decision: allow }
  - name: wrongly expected to pass
    request: { path: /admin/x }
    token: { claims: { sub: alice } }
    expect: { decision: allow, headers: { x-auth-subject: alice } }
  - name: wrong header value
    request: { path: /orders }
    token: { claims: { sub: alice } }
    expect: { headers: { x-auth-subject: bob, x-auth-tenant: acme } }
`);
    const r = await runCli(['test', '--config', config, tests]);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toEqual([
      '✔ admins pass',
      '✘ wrongly expected to pass: expected allow, got deny; expected header x-auth-subject "alice", got absent (got deny 403 scope_missing: missing scope: admin)',
      '✘ wrong header value: expected header x-auth-subject "bob", got "alice"; expected header x-auth-tenant "acme", got absent (got allow 200 token_valid, rule default)',
      '1 passed, 2 failed',
    ]);
  });

  it('runs the example decision table of deploy/ against its example config (CI runs it here)', async () => {
    const table = join(ROOT, 'deploy/portcullis.test.yaml');
    const cases = (parseYaml(readFileSync(table, 'utf8')) as { cases: unknown[] }).cases.length;
    const r = await runCli(['test', '--config', join(ROOT, 'deploy/portcullis.yaml'), table]);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout).at(-1)).toBe(`${cases} passed, 0 failed`);
    expect(r.code).toBe(0);
  });

  it('refuses a bad test file with every problem by path, and exits 2', async () => {
    const tests = file('bad.test.yaml', `
cases:
  - name: twice
    request: { path: /a }
    expect: { decision: maybe }
  - name: twice
    request: { paht: /a }
    token: { claim: { sub: a } }
    expect: {}
  - name: twice
    request: { path: /a }
    expect: {}
  - name: a header this config never sets
    request: { path: /a }
    expect: { headers: { x-user: alice } }
`);
    const r = await runCli(['test', '--config', config, tests]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    for (const problem of [
      'cases[0].expect.decision: must be one of allow, deny',
      'cases[1].request.paht: unknown key',
      'cases[1].request.path: required',
      'cases[1].token.claim: unknown key',
      'cases[2].name: "twice" is used twice',
      'cases[2].expect: give at least one of decision, status, reason, headers',
      'cases[3].expect.headers.x-user: not a header this config sets',
    ]) expect(r.stderr).toContain(`${tests}: ${problem}`);
  });

  it('names every expectation-free case', async () => {
    const tests = file('empty-expect.test.yaml', 'cases:\n  - name: nothing asserted\n    request: { path: /a }\n    expect: {}\n');
    const r = await runCli(['test', '--config', config, tests]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cases[0].expect: give at least one of decision, status, reason, headers');
  });

  it.each([
    [['test', '--config', '/nonexistent.yaml', 'x.yaml'], 2, 'cannot read the file'],
    [['test', 'x.yaml'], 2, '--config FILE is required'],
    [['test', '--config', 'deploy/portcullis.yaml'], 2, 'give at least one TESTS.yaml'],
    [['test', '--config', 'deploy/portcullis.yaml', '/nonexistent.test.yaml'], 2, 'cannot read the file: ENOENT'],
    [['test', '--help'], 0, 'usage: portcullis test'],
  ])('%j exits %i', async (args, code, text) => {
    const r = await runCli(args, { cwd: ROOT });
    expect(r.code).toBe(code);
    expect(r.stdout + r.stderr).toContain(text);
  });

  it('refuses a bad config with its problems by path, exit 2', async () => {
    const bad = file('bad-config.yaml', 'issuers: []\nroutes: [{ match: { hosts: [UPPER] } }]\n');
    const tests = file('any.test.yaml', 'cases:\n  - name: x\n    request: { path: /a }\n    expect: { decision: allow }\n');
    const r = await runCli(['test', '--config', bad, tests]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('routes[0].match.hosts[0]:');
  });
});
