import { describe, expect, it } from 'vitest';
import { judgeAnswer } from '../../../src/core/introspection/answer.ts';
import type { IssuerConfig } from '../../../src/core/config.ts';

const NOW = 1_800_000_000_000;
const issuer: IssuerConfig = {
  issuer: 'https://idp.test/', audiences: ['api.test'], algorithms: ['ES256'], leewayMs: 0, requiredClaims: [],
  keySource: { kind: 'inline', jwks: { keys: [] } },
} as unknown as IssuerConfig;
const active = (claims: Record<string, unknown>) => judgeAnswer({ kind: 'active', claims: { active: true, exp: NOW / 1000 + 60, ...claims }, bytes: 64 }, issuer, NOW, () => {});

describe('an active introspection answer', () => {
  it.each([
    ['no token_type (RFC 7662 makes it optional)', {}],
    ['token_type Bearer', { token_type: 'Bearer' }],
    ['token_type DPoP', { token_type: 'DPoP' }],
    ['token_type in another case', { token_type: 'bearer' }],
    ['an aud that names this API', { aud: 'api.test', token_type: 'Bearer' }],
  ])('is a token with %s', (_n, claims) => {
    expect(active(claims)).toMatchObject({ ok: true });
  });

  it.each([
    ['a refresh token', { token_type: 'refresh_token' }, 'claim_invalid'],
    ['an ID token', { token_type: 'urn:ietf:params:oauth:token-type:id_token' }, 'claim_invalid'],
    ['a non-string token_type', { token_type: 7 }, 'claim_invalid'],
    ['another issuer', { iss: 'https://evil.test/' }, 'claim_invalid'],
    ['another audience', { aud: 'other-api' }, 'audience_mismatch'],
    ['an exp in the past', { exp: NOW / 1000 - 1 }, 'token_expired'],
  ])('is refused for %s', (_n, claims, reason) => {
    expect(active(claims)).toMatchObject({ ok: false, status: 401, reason });
  });
});
