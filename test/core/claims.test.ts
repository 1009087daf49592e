import { describe, expect, it } from 'vitest';
import { CLAIM_CHECKS, checkClaims, checkClaimTimes } from '../../src/core/claims.ts';
import type { IssuerConfig } from '../../src/core/config.ts';

const NOW = 1_800_000_000;
const issuer: IssuerConfig = {
  issuer: 'https://idp.test/',
  audiences: ['api', 'caddy'],
  algorithms: ['ES256'],
  leewayMs: 60_000,
  maxTtlMs: 3_600_000,
  requiredClaims: ['sub'],
  allowInsecureHttp: false,
};
const base = { iss: issuer.issuer, aud: 'api', sub: 'alice', iat: NOW - 10, exp: NOW + 600 };
const check = (claims: Record<string, unknown>, cfg: Partial<IssuerConfig> = {}) => checkClaims({ ...base, ...claims }, { ...issuer, ...cfg }, NOW * 1000);

describe('checkClaims', () => {
  it.each([
    ['a plain valid token', {}],
    ['aud as an array with one match', { aud: ['other', 'caddy'] }],
    ['exp just inside the leeway', { exp: NOW - 59 }],
    ['nbf just inside the leeway', { nbf: NOW + 59 }],
    ['iat slightly in the future within leeway', { iat: NOW + 30 }],
    ['lifetime exactly max_ttl', { iat: NOW - 10, exp: NOW - 10 + 3600 }],
  ])('accepts %s', (_name, claims) => {
    expect(check(claims)).toEqual({ ok: true });
  });

  it.each([
    ['no exp', { exp: undefined }, 'claim_missing'],
    ['exp as a string', { exp: String(NOW + 600) }, 'claim_invalid'],
    ['exp past the leeway', { exp: NOW - 60 }, 'token_expired'],
    ['nbf past the leeway', { nbf: NOW + 61 }, 'token_not_yet_valid'],
    ['nbf as a string', { nbf: 'soon' }, 'claim_invalid'],
    ['iat in the future', { iat: NOW + 120 }, 'token_not_yet_valid'],
    ['iat as a string', { iat: 'yesterday' }, 'claim_invalid'],
    ['lifetime over max_ttl', { iat: NOW - 10, exp: NOW + 3600 }, 'lifetime_too_long'],
    ['no aud', { aud: undefined }, 'claim_missing'],
    ['aud not in the list', { aud: 'internal' }, 'audience_mismatch'],
    ['aud an empty array', { aud: [] }, 'claim_invalid'],
    ['aud with a number', { aud: ['api', 7] }, 'claim_invalid'],
    ['aud an object', { aud: { api: true } }, 'claim_invalid'],
    ['sub a number', { sub: 42 }, 'claim_invalid'],
    ['required sub missing', { sub: undefined }, 'claim_missing'],
    ['required sub null', { sub: null }, 'claim_invalid'],
  ])('denies %s as %s', (_name, claims, reason) => {
    const c = { ...claims } as Record<string, unknown>;
    const payload = { ...base, ...c };
    for (const k of Object.keys(c)) if (c[k] === undefined) delete (payload as Record<string, unknown>)[k];
    expect(checkClaims(payload, issuer, NOW * 1000)).toMatchObject({ ok: false, reason });
  });

  it('needs iat when max_ttl is set', () => {
    const { iat: _iat, ...noIat } = base;
    expect(checkClaims(noIat, issuer, NOW * 1000)).toMatchObject({ ok: false, reason: 'claim_missing' });
    expect(checkClaims(noIat, { ...issuer, maxTtlMs: undefined }, NOW * 1000)).toEqual({ ok: true });
  });

  it('says which audiences were expected and which arrived', () => {
    const r = check({ aud: ['internal.svc', 'other'] });
    expect(r).toMatchObject({ ok: false, reason: 'audience_mismatch' });
    expect(!r.ok && r.message).toBe('audience mismatch: expected one of ["api", "caddy"], got ["internal.svc", "other"]');
  });

  it('clips hostile audience values in the message', () => {
    const r = check({ aud: ['x'.repeat(500), 'a', 'b', 'c', 'd', 'e', 'f'] });
    expect(!r.ok && r.message.length).toBeLessThan(250);
    expect(!r.ok && r.message).toContain('… 2 more');
  });
});

describe('checkClaimTimes (a cached token, already checked under this issuer config)', () => {
  it.each([
    ['an expired token', { exp: NOW - 61 }, 'token_expired'],
    ['a token not valid yet', { nbf: NOW + 61 }, 'token_not_yet_valid'],
    ['a token issued in the future', { iat: NOW + 61 }, 'token_not_yet_valid'],
  ])('refuses %s again on every hit', (_name, claims, reason) => {
    expect(checkClaimTimes({ ...base, ...claims }, issuer, NOW * 1000)).toMatchObject({ ok: false, reason });
  });

  it('runs exactly the clock-dependent checks: the others cannot change for the same token and issuer config', () => {
    expect(CLAIM_CHECKS.slice(0, 3).map(([name]) => name)).toEqual(['exp', 'nbf', 'iat']);
    expect(checkClaimTimes({ ...base, aud: 'elsewhere' }, issuer, NOW * 1000)).toEqual({ ok: true });
  });
});

describe('required_claims by claim path', () => {
  const required = (payload: Record<string, unknown>) => checkClaims({ ...base, ...payload }, { ...issuer, requiredClaims: ['sub', 'kubernetes.io.namespace'] }, NOW * 1000);
  it.each<[string, Record<string, unknown>, string | null]>([
    ['present under a dotted key', { 'kubernetes.io': { namespace: 'payments' } }, null],
    ['absent', {}, 'token has no "kubernetes.io.namespace" claim'],
    ['null', { 'kubernetes.io': { namespace: null } }, 'token has no "kubernetes.io.namespace" claim'],
    ['ambiguous', { 'kubernetes.io': { namespace: 'a' }, kubernetes: { 'io.namespace': 'b' } }, 'claim "kubernetes.io.namespace" is ambiguous in this token: it resolves in more than one way'],
  ])('%s', (_n, payload, message) => {
    expect(required(payload)).toEqual(message === null ? { ok: true } : { ok: false, reason: 'claim_missing', message });
  });
});
