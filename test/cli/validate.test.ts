/**
 * `portcullis validate` and `portcullis schema`, spawned as operators run them: validate checks a config as a start
 * would and contacts nothing (a listener that counts connections stands in for the IdP and for Redis), exits 0 when
 * valid and 2 with every problem by path; schema prints the JSON Schema. `npx portcullis` reaches the same CLI.
 */
import { createServer, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '../..');
let dir: string;
let listener: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-validate-'));
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise((resolve) => listener.close(resolve));
});

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('portcullis validate', () => {
  it('accepts a valid config with remote key sources and a Redis store, contacting none of them', async () => {
    const config = configFile('remote.yaml', `
issuers:
  - issuer: "http://127.0.0.1:${port}/"
    jwks_uri: "http://127.0.0.1:${port}/jwks.json"
    audiences: [api]
    replay: true
  - issuer: "http://127.0.0.1:${port}/oidc"
    openid_configuration: "http://127.0.0.1:${port}/.well-known/openid-configuration"
    audiences: [api]
replay: { store: redis, redis: { url: "redis://127.0.0.1:${port}/0" } }
routes:
  - match: { paths: ["/admin/**"] }
    require: { scopes: [admin] }
`);
    const r = await runCli(['validate', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid (2 issuers, 1 route, 0 policies; 2 remote key sources not contacted)');
    expect(connections).toBe(0);
    expect(r.ms).toBeLessThan(4000); // jwks.timeout is 5s: a fetch would show
  });

  it('lists every problem by key path and exits 2', async () => {
    const config = configFile('bad.yaml', `
listen: { grpc: nope }
issuers:
  - issuer: "https://idp.test/"
    jwks_uri: "https://idp.test/jwks.json"
    leeway: 60
routes:
  - match: { path: ["/a"] }
`);
    const r = await runCli(['validate', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    for (const problem of ['listen.grpc: "nope" must be host:port', 'issuers[0].leeway: must be a duration', 'issuers[0].audiences: required', 'routes[0].match.path: unknown key']) {
      expect(r.stderr).toContain(problem);
    }
  });

  it.each([
    ['an inline key set without a usable key', `jwks: { keys: [{ kty: oct, k: c2VjcmV0 }] }`, 'issuers[0].jwks: no usable verification key'],
    ['a jwks_file that is not JSON', 'jwks_file: ./not-json.txt', 'issuers[0].jwks_file: '],
    ['a jwks_file that is missing', 'jwks_file: ./missing.json', 'issuers[0].jwks_file: cannot read'],
  ])('refuses %s (key sets a start reads from disk or the config), exit 2', async (_, source, problem) => {
    writeFileSync(join(dir, 'not-json.txt'), 'not json');
    const config = configFile('keys.yaml', `issuers:\n  - issuer: "https://idp.test/"\n    ${source}\n    audiences: [api]\n`);
    const r = await runCli(['validate', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(problem);
  });

  it.each([
    [['validate'], 2, '--config FILE is required'],
    [['validate', '--config', '/nonexistent/portcullis.yaml'], 2, 'cannot read the file: ENOENT'],
    [['validate', '--bogus'], 2, "Unknown option '--bogus'"],
    [['validate', '--help'], 0, 'usage: portcullis validate'],
  ])('%j exits %i', async (args, code, text) => {
    const r = await runCli(args);
    expect(r.code).toBe(code);
    expect(r.stdout + r.stderr).toContain(text);
  });

  it('validates the example config of deploy/', async () => {
    const r = await runCli(['validate', '--config', join(ROOT, 'deploy/portcullis.yaml')]);
    expect(r.code).toBe(0);
  });
});

describe('portcullis schema', () => {
  it('prints a draft 2020-12 JSON Schema that refuses unknown keys and exits 0', async () => {
    const r = await runCli(['schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', additionalProperties: false });
    expect(schema.properties.jwks.properties.timeout).toMatchObject({ default: '5s', description: expect.any(String) });
  });

  it.each([[['schema', '--help'], 0], [['schema', '--bogus'], 2]])('%j exits %i', async (args, code) => {
    expect((await runCli(args)).code).toBe(code);
  });
});

describe('npx portcullis (package.json bin)', () => {
  it('runs the CLI from the repository', async () => {
    const { stdout, code } = await new Promise<{ stdout: string; code: number }>((resolve) => {
      execFile('npx', ['--no-install', 'portcullis', 'validate', '--help'], { cwd: ROOT, env: { ...process.env, PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` } }, (e, out) =>
        resolve({ stdout: out, code: e === null ? 0 : ((e as { code?: number }).code ?? 1) }));
    });
    expect(code).toBe(0);
    expect(stdout).toContain('usage: portcullis validate');
  });
});
