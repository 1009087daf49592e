/**
 * The labelled demo that `npm start` runs without a config: a development issuer whose key is generated at start
 * and whose JWKS the service serves itself, plus a ready-to-paste token. Never used when a config is given.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { buildConfig } from './config/load.ts';
import type { Config } from './core/config.ts';

export const DEMO_ISSUER = 'https://portcullis.demo/';
export const DEMO_AUDIENCE = 'portcullis-demo';
export const DEMO_JWKS_PATH = '/.well-known/jwks.json';

export interface Demo {
  readonly config: Config;
  readonly routes: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>;
  readonly token: string;
  banner(grpcAddress: string, httpUrl: string): string;
}

export async function createDemo(listen: { grpc: string; http: string }): Promise<Demo> {
  if (listen.http.startsWith('unix:')) throw new Error('the demo needs a TCP HTTP listener to serve its JWKS');
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `demo-${randomUUID().slice(0, 8)}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] });
  const config = buildConfig(
    {
      listen,
      issuers: [{ issuer: DEMO_ISSUER, jwks_uri: `http://${listen.http}${DEMO_JWKS_PATH}`, audiences: [DEMO_AUDIENCE], algorithms: ['ES256'], required_claims: ['sub'] }],
      excludes: ['/public/**'],
      identity_headers: { sub: 'x-auth-subject', email: 'x-auth-email' },
    },
    'built-in demo',
    process.cwd(),
    true,
  );
  const token = await new SignJWT({ email: 'demo@portcullis.demo' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(DEMO_ISSUER)
    .setAudience(DEMO_AUDIENCE)
    .setSubject('demo-user')
    .setIssuedAt()
    .setExpirationTime('12h')
    .sign(privateKey);
  const serveJwks = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(jwks);
  };
  return {
    config,
    token,
    routes: new Map([[DEMO_JWKS_PATH, serveJwks]]),
    banner: (grpcAddress, httpUrl) => `
================================  PORTCULLIS DEMO MODE  ================================
No config was given (--config FILE or PORTCULLIS_CONFIG), so this is a DEMO, not for production:
a development issuer ${DEMO_ISSUER} with a key generated at start (kid ${kid}),
its JWKS served by this process at ${httpUrl}${DEMO_JWKS_PATH}.

  gRPC ext_authz (Envoy):   ${grpcAddress}
  HTTP forward auth:        ${httpUrl}/auth   (health: /healthz, /readyz)

A token for subject "demo-user", valid 12h:

export TOKEN=${token}

Try it (as Caddy's forward_auth would ask):
  curl -i ${httpUrl}/auth -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /hello" -H "Authorization: Bearer $TOKEN"
  curl -i ${httpUrl}/auth -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /hello"               # 401
  curl -i ${httpUrl}/auth -H "X-Forwarded-Method: GET" -H "X-Forwarded-Uri: /public/x"            # excluded: 200
With Envoy: deploy/envoy/envoy.yaml points its ext_authz filter at ${grpcAddress}.
With grpcurl (from the repo root):
  grpcurl -plaintext -import-path proto -proto envoy/service/auth/v3/external_auth.proto \\
    -d '{"attributes":{"request":{"http":{"method":"GET","path":"/hello","headers":{"authorization":"Bearer '"$TOKEN"'"}}}}}' \\
    ${grpcAddress} envoy.service.auth.v3.Authorization/Check
========================================================================================
`,
  };
}
