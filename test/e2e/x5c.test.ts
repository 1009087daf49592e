/**
 * Smallstep's X5C pattern behind real Caddy 2.6.2 (deploy/caddy/Caddyfile, unchanged): a workload holds a certificate
 * from a CA whose root Portcullis is configured with, and sends a token shaped exactly like `step ca token` makes for
 * an X5C provisioner (header x5c + kid = key file path; iss = provisioner, sub, sans, step, sha, jti, iat = nbf,
 * exp = +5 m, aud = the proxy's sign URL + "#x5c/<provisioner>"). Certificates come from openssl at test time; the
 * service is the real one (startPortcullis) on loopback. No JWKS is fetched for this issuer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { manualClock, startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { startProxy, type RunningProxy } from '../support/proxies.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.ts';
import { TestPki, type IssuedCert } from '../support/pki.ts';
import { CA_AUDIENCE, PROVISIONER, stepX5cToken } from '../support/x5c.ts';
import { send } from '../transports/http/fixtures.ts';

const NOW = Math.floor(Date.now() / 1000) * 1000;
const PROXY_SSH_SIGN = 'https://caddy:9595/1.0/ssh/sign';
const SSH_STEP = { ssh: { certType: 'user', keyID: 'workload.example.com', principals: ['deploy'], validAfter: '', validBefore: '' } };

describe('x5c end to end through caddy', () => {
  let pki: TestPki;
  let int: IssuedCert, leaf: IssuedCert, stranger: IssuedCert, strangerInt: IssuedCert;
  let portcullis: TestPortcullis | undefined;
  let upstream: RecordingUpstream | undefined;
  let proxy: RunningProxy | undefined;

  beforeAll(async () => {
    pki = new TestPki(NOW);
    const root = pki.ca('root');
    int = pki.ca('int', root);
    leaf = pki.leaf('workload.example.com', int);
    const otherRoot = pki.ca('other-root');
    strangerInt = pki.ca('other-int', otherRoot);
    stranger = pki.leaf('stranger', strangerInt);
    portcullis = await startTestPortcullis({
      clock: manualClock(NOW),
      config: {
        issuers: [{ issuer: PROVISIONER, x5c: { roots: [root.pemFile] }, audiences: [CA_AUDIENCE.replace('/sign', '/ssh/sign'), PROXY_SSH_SIGN], algorithms: ['ES256'] }],
      },
    });
    upstream = await startRecordingUpstream();
    proxy = await startProxy('caddy', { authAddress: portcullis.httpAddress, upstreamAddress: upstream.address });
  });
  afterAll(async () => {
    try {
      await proxy?.stop();
    } finally {
      await Promise.all([upstream?.close(), portcullis?.close()]);
      pki?.cleanup();
    }
  });
  beforeEach(() => {
    upstream?.requests.splice(0);
  });

  const post = (token: string) => send(proxy!.url, { method: 'POST', path: '/1.0/ssh/sign', headers: [['Authorization', `Bearer ${token}`]] });

  it('lets a step CLI X5C token through to the app with its subject, without fetching any JWKS', async () => {
    const token = await stepX5cToken(leaf, NOW, { chain: [int], claims: { aud: `${PROXY_SSH_SIGN}#x5c/${PROVISIONER}`, step: SSH_STEP } });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: leaf.keyFile, x5c: [leaf.x5c, int.x5c] });
    const res = await post(token);
    expect(res.status, proxy!.output()).toBe(200);
    expect(upstream!.requests).toHaveLength(1);
    expect(upstream!.requests[0]!.headers['x-auth-subject']).toEqual(['workload.example.com']);
    expect(portcullis!.jwks.fetches).toBe(0);
  });

  it.each([
    ['a token whose aud names a proxy the issuer does not list', () => stepX5cToken(leaf, NOW, { chain: [int], claims: { aud: `https://other-proxy:9595/1.0/ssh/sign#x5c/${PROVISIONER}` } }), 'audience_mismatch', /audience mismatch: expected one of/],
    ['a chain to another CA', () => stepX5cToken(stranger, NOW, { chain: [strangerInt], claims: { aud: `${PROXY_SSH_SIGN}#x5c/${PROVISIONER}` } }), 'x5c_untrusted', /no certificate path from the x5c leaf to a configured root/],
    ['the leaf without its intermediate', () => stepX5cToken(leaf, NOW, { claims: { aud: `${PROXY_SSH_SIGN}#x5c/${PROVISIONER}` } }), 'x5c_untrusted', /no certificate path/],
  ])('answers %s with 401 and never reaches the app', async (_name, make, reason, says) => {
    const res = await post(await make());
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token', reason });
    expect(res.headers['www-authenticate']?.[0]).toMatch(says);
    expect(upstream!.requests).toHaveLength(0);
  });
});
