/**
 * Audience matching: exact for every issuer; for an x5c issuer also the way Smallstep's CA matches a provisioner's
 * audiences (each configured URL with "#x5c/<provisioner>" appended, ports ignored on both sides), so a step CLI
 * token works unchanged. Anything else is still a mismatch.
 */
import { describe, expect, it } from 'vitest';
import { audienceMatches, stripPort } from '../../src/core/audience.ts';
import type { IssuerConfig } from '../../src/core/config.ts';

const base = { allowInsecureHttp: false, algorithms: ['ES256'], leewayMs: 60_000, requiredClaims: [] } as const;
const x5cIssuer: IssuerConfig = { ...base, issuer: 'x5c-provisioner', audiences: ['https://ca.example.com/1.0/sign', 'https://caddy:9595/1.0/ssh/sign', 'api.test'], x5c: { roots: [], extendedKeyUsage: [] } };
const jwksIssuer: IssuerConfig = { ...base, issuer: 'https://idp.test/', audiences: ['https://ca.example.com/1.0/sign'], jwksUri: 'https://idp.test/jwks' };

describe('an x5c issuer matches aud', () => {
  it.each([
    ['exactly as configured', 'https://ca.example.com/1.0/sign', true],
    ['a non-URL audience exactly', 'api.test', true],
    ['with the step CLI fragment #x5c/<provisioner>', 'https://ca.example.com/1.0/sign#x5c/x5c-provisioner', true],
    ['with a port the configured audience lacks (Smallstep stripPort)', 'https://ca.example.com:9000/1.0/sign#x5c/x5c-provisioner', true],
    ['through the proxy with its port', 'https://caddy:9595/1.0/ssh/sign#x5c/x5c-provisioner', true],
    ['through the proxy on another port', 'https://caddy:443/1.0/ssh/sign#x5c/x5c-provisioner', true],
    ['another provisioner\'s fragment', 'https://ca.example.com/1.0/sign#x5c/other', false],
    ['another provisioner type\'s fragment', 'https://ca.example.com/1.0/sign#jwk/x5c-provisioner', false],
    ['another path', 'https://ca.example.com/1.0/revoke#x5c/x5c-provisioner', false],
    ['another host', 'https://ca.example.org/1.0/sign#x5c/x5c-provisioner', false],
    ['another scheme', 'http://ca.example.com/1.0/sign#x5c/x5c-provisioner', false],
    ['a host that only starts like the configured one', 'https://ca.example.com.evil.test/1.0/sign#x5c/x5c-provisioner', false],
    ['userinfo in front of the host', 'https://ca.example.com@evil.test/1.0/sign#x5c/x5c-provisioner', false],
    ['the proxy name missing', 'https://other-proxy:9595/1.0/sign#x5c/x5c-provisioner', false],
  ])('%s: %s → %s', (_name, aud, expected) => {
    expect(audienceMatches(aud, x5cIssuer)).toBe(expected);
  });
});

describe('a JWKS issuer matches aud exactly, as before', () => {
  it.each([
    ['https://ca.example.com/1.0/sign', true],
    ['https://ca.example.com/1.0/sign#x5c/https://idp.test/', false],
    ['https://ca.example.com:9000/1.0/sign', false],
  ])('%s → %s', (aud, expected) => {
    expect(audienceMatches(aud, jwksIssuer)).toBe(expected);
  });
});

describe('stripPort', () => {
  it.each([
    ['https://caddy:9595/1.0/sign#x5c/p', 'https://caddy/1.0/sign#x5c/p'],
    ['https://ca.example.com/1.0/sign', 'https://ca.example.com/1.0/sign'],
    ['not a url', 'not a url'],
  ])('%s → %s', (input, output) => {
    expect(stripPort(input)).toBe(output);
  });
});
