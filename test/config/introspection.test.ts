/**
 * `issuers[].introspection` at config load: defaults, credentials read from files (and never shown), and every
 * problem with its key path, all at once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../support/config.ts';

const SECRET = 'a-very-secret-client-secret';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-introspection-config-'));
  writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
  writeFileSync(join(dir, 'empty'), '\n');
  writeFileSync(join(dir, 'key.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(join(dir, 'key.json'), JSON.stringify({ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'client-1' }));
  writeFileSync(join(dir, 'weak.pem'), generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  writeFileSync(join(dir, 'garbage.pem'), `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`);
});

const issuer = (introspection: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  issuer: 'https://idp.example.com/', discovery: true, audiences: ['api.example.com'], introspection, ...extra,
});
const doc = (...issuers: unknown[]) => ({ listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' }, issuers });
const build = (...issuers: unknown[]) => buildConfig(doc(...issuers), 'test.yaml', dir);
const problems = (...issuers: unknown[]) => configProblems(doc(...issuers), dir, 'test.yaml');

describe('introspection config', () => {
  it('has the documented defaults, and reads the secret from its file', () => {
    const c = build(issuer({ client_id: 'portcullis', client_secret_file: 'secret', opaque_tokens: true })).issuers[0]!.introspection!;
    expect(c).toMatchObject({ clientId: 'portcullis', authMethod: 'client_secret_basic', opaqueTokens: true, jwtTokens: false, maxTtlMs: 60_000, inactiveTtlMs: 5_000, timeoutMs: 2_000 });
    expect(c.endpoint).toBeUndefined(); // read from discovery
    expect(c.clientSecret!.reveal()).toBe(SECRET);
  });

  it('never shows a secret: not as JSON, not as text, not when inspected', () => {
    const config = build(issuer({ client_id: 'portcullis', client_secret_file: 'secret', opaque_tokens: true }));
    for (const shown of [JSON.stringify(config), String(config.issuers[0]!.introspection!.clientSecret), inspect(config, { depth: 10 })]) {
      expect(shown).not.toContain(SECRET);
    }
    expect(JSON.stringify(config.issuers[0]!.introspection)).toMatch(/"clientSecret":"\[secret [0-9a-f]{8}\]"/);
  });

  it.each([
    ['a PEM key', 'key.pem', undefined],
    ['a private JWK, with its kid', 'key.json', 'client-1'],
  ])('reads a private_key_jwt key from %s', (_name, file, kid) => {
    const c = build(issuer({ client_id: 'portcullis', auth_method: 'private_key_jwt', private_key_file: file, jwt_tokens: true })).issuers[0]!.introspection!;
    expect(c.privateKey!.reveal().type).toBe('private');
    expect(c.privateKeyId).toBe(kid);
  });

  it.each([
    ['no client_id', { client_secret_file: 'secret', opaque_tokens: true }, 'issuers[0].introspection.client_id: required'],
    ['no secret file', { client_id: 'p', opaque_tokens: true }, 'issuers[0].introspection.client_secret_file: required with auth_method client_secret_basic'],
    ['an unreadable secret file', { client_id: 'p', client_secret_file: 'nope', opaque_tokens: true }, 'issuers[0].introspection.client_secret_file: cannot read'],
    ['an empty secret file', { client_id: 'p', client_secret_file: 'empty', opaque_tokens: true }, 'issuers[0].introspection.client_secret_file: '],
    ['private_key_jwt without a key', { client_id: 'p', auth_method: 'private_key_jwt', opaque_tokens: true }, 'issuers[0].introspection.private_key_file: required with auth_method private_key_jwt'],
    ['a key with a secret method', { client_id: 'p', client_secret_file: 'secret', private_key_file: 'key.pem', opaque_tokens: true }, 'issuers[0].introspection.private_key_file: only with auth_method private_key_jwt'],
    ['a weak RSA key', { client_id: 'p', auth_method: 'private_key_jwt', private_key_file: 'weak.pem', opaque_tokens: true }, 'under 2048 bits'],
    ['a key file that is no key', { client_id: 'p', auth_method: 'private_key_jwt', private_key_file: 'garbage.pem', opaque_tokens: true }, 'issuers[0].introspection.private_key_file: garbage.pem is not a PEM private key or a private JWK'],
    ['an unknown method', { client_id: 'p', client_secret_file: 'secret', auth_method: 'none', opaque_tokens: true }, 'issuers[0].introspection.auth_method: must be one of client_secret_basic, client_secret_post, private_key_jwt'],
    ['nothing to introspect', { client_id: 'p', client_secret_file: 'secret' }, 'issuers[0].introspection: introspects nothing'],
    ['a plain-http endpoint', { client_id: 'p', client_secret_file: 'secret', opaque_tokens: true, endpoint: 'http://idp.example.com/introspect' }, 'issuers[0].introspection.endpoint: plain http'],
    ['a too short timeout', { client_id: 'p', client_secret_file: 'secret', opaque_tokens: true, timeout: '1ms' }, 'issuers[0].introspection.timeout: must be at least 100ms'],
    ['an unknown key', { client_id: 'p', client_secret_file: 'secret', opaque_tokens: true, cache: { ttl: '1s' } }, 'issuers[0].introspection.cache.ttl: unknown key'],
  ])('refuses %s, naming the key path', (_name, introspection, problem) => {
    const found = problems(issuer(introspection));
    expect(found.some((p) => p.includes(problem)), found.join('\n')).toBe(true);
    expect(found.join('\n')).not.toContain(SECRET);
  });

  it('needs an endpoint when the issuer has no discovery', () => {
    expect(problems(issuer({ client_id: 'p', client_secret_file: 'secret', opaque_tokens: true }, { discovery: false, jwks_uri: 'https://idp.example.com/jwks' })))
      .toContain('issuers[0].introspection.endpoint: required unless the issuer uses discovery (discovery: true or openid_configuration)');
  });

  it('lets one issuer at most answer for opaque tokens', () => {
    const two = [issuer({ client_id: 'p', client_secret_file: 'secret', opaque_tokens: true }), issuer({ client_id: 'p', client_secret_file: 'secret', opaque_tokens: true }, { issuer: 'https://other.example.com/' })];
    expect(problems(...two)).toContain('issuers[1].introspection.opaque_tokens: only one issuer may answer for opaque tokens (issuers[0] already does)');
  });
});
