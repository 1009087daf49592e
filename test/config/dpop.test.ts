/** The `dpop` section, `issuers[].sender_constraint` and `require.sender_constrained`: defaults, and every mistake named by its path. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../support/config.ts';

const issuer = { issuer: 'https://idp.test/', audiences: ['api'], jwks_uri: 'https://idp.test/jwks' };
const base = { issuers: [issuer], workers: 1 };
const dir = mkdtempSync(join(tmpdir(), 'dpop-config-'));
const secretFile = join(dir, 'secret');
writeFileSync(secretFile, 'x'.repeat(32));
writeFileSync(join(dir, 'short'), 'x'.repeat(31));

describe('dpop config', () => {
  it('has the defaults of the contract', () => {
    const c = buildConfig({ issuers: [issuer] }, 'test', dir);
    expect(c.dpop).toEqual({ algorithms: ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'], maxAgeMs: 60_000, leewayMs: 5_000, nonce: false });
    expect(c.issuers[0]!.senderConstraint).toBe('optional');
  });

  it('reads every key, resolving the secret file next to the config', () => {
    const c = buildConfig({ ...base, dpop: { algorithms: ['ES256'], max_age: '30s', leeway: '1s', nonce: true, nonce_secret_file: 'secret' }, issuers: [{ ...issuer, sender_constraint: 'required' }], routes: [{ match: { paths: ['/p/**'] }, require: { sender_constrained: true } }] }, 'test', dir);
    expect(c.dpop).toEqual({ algorithms: ['ES256'], maxAgeMs: 30_000, leewayMs: 1_000, nonce: true, nonceSecretFile: secretFile });
    expect(c.issuers[0]!.senderConstraint).toBe('required');
    expect(c.policy.routes[0]!.rule.senderConstrained).toBe(true);
    expect(JSON.stringify(c)).not.toContain('x'.repeat(32)); // the secret itself is never in the config
  });

  it.each<[unknown, string]>([
    [{ ...base, dpop: { algorithms: ['HS256'] } }, 'dpop.algorithms[0]: must be one of'],
    [{ ...base, dpop: { algorithms: ['none'] } }, 'dpop.algorithms[0]: must be one of'],
    [{ ...base, dpop: { algorithms: [] } }, 'dpop.algorithms: must not be empty'],
    [{ ...base, dpop: { max_age: 60 } }, 'dpop.max_age: must be a duration'],
    [{ ...base, dpop: { max_age: '2h' } }, 'dpop.max_age: must be at most 1h'],
    [{ ...base, dpop: { leeway: '10m' } }, 'dpop.leeway: must be at most 5m'],
    [{ ...base, dpop: { nonce: true } }, 'dpop.nonce_secret_file: required when dpop.nonce is true'],
    [{ ...base, dpop: { nonce: true, nonce_secret_file: 'missing' } }, 'dpop.nonce_secret_file: cannot read'],
    [{ ...base, dpop: { nonce: true, nonce_secret_file: 'short' } }, 'dpop.nonce_secret_file: '],
    [{ ...base, dpop: { nonces: true } }, 'dpop.nonces: unknown key'],
    [{ ...base, issuers: [{ ...issuer, sender_constraint: 'always' }] }, 'issuers[0].sender_constraint: must be one of optional, required'],
    [{ ...base, routes: [{ require: { any: [{ sender_constrained: true }] } }] }, 'routes[0].require.any[0].sender_constrained: only allowed directly under require'],
    [{ issuers: [issuer], workers: 2, dpop: {} }, 'replay.store: memory keeps DPoP proof jti values inside one process, but 2 workers run'],
    [{ issuers: [{ ...issuer, sender_constraint: 'required' }], workers: 2 }, 'replay.store: memory keeps DPoP proof jti values'],
  ])('refuses %j', (doc, problem) => {
    expect(configProblems(doc, dir).join('\n')).toContain(problem);
  });

  it('lets several workers share a memory store when DPoP is not configured on purpose, and a redis store always', () => {
    expect(configProblems({ issuers: [issuer], workers: 2 }, dir)).toEqual([]);
    expect(configProblems({ issuers: [issuer], workers: 2, dpop: {}, replay: { store: 'redis', redis: { url: 'redis://127.0.0.1:6379' } } }, dir)).toEqual([]);
  });
});
