/**
 * panva's oidc-provider (a certified OpenID Provider) in-process on a free loopback port: its development login
 * form and consent page, refresh tokens (offline_access), JWT access tokens for the resource `api.test` (resource
 * indicators) so Portcullis's verifier can verify them, revocation, and RP-initiated logout. With `dpop: true`, also
 * its `dPoP` feature and a client_credentials client (OP_DPOP_CLIENT_ID) whose JWT access tokens are DPoP-bound
 * (`cnf.jkt`).
 *
 * With `introspection`, also token introspection (RFC 7662, RFC 9701 signed answers for a client that asks for them)
 * and clients that authenticate with client_secret_post and private_key_jwt; `issueOpaque` mints an opaque access
 * token for an account as the provider's own token endpoint would, and the server counts introspection calls and
 * can be stopped and started again on its port.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { exportJWK } from 'jose';
import Provider from 'oidc-provider';
import { freePort } from './ports.ts';

export const OP_CLIENT_ID = 'portcullis';
export const OP_CLIENT_SECRET = 'a-client-secret-for-the-e2e-test';
export const OP_AUDIENCE = 'api.test';
/** With `dpop: true`: a machine client (client_credentials, client_secret_basic) that must present DPoP proofs. */
export const OP_DPOP_CLIENT_ID = 'dpop-machine';

export const OP_POST_CLIENT_ID = 'portcullis-post';
export const OP_JWT_CLIENT_ID = 'portcullis-jwt';

export interface RunningProvider {
  readonly issuer: string;
  readonly provider: InstanceType<typeof Provider>;
  /** Introspection requests received (any client, any answer). */
  readonly introspections: number;
  /** An opaque access token for `accountId` (introspection only): audience api.test, these scopes. */
  issueOpaque(accountId: string, scope?: string, ttlS?: number): Promise<string>;
  /** Revokes a token as the revocation endpoint would. */
  revoke(token: string): Promise<void>;
  /** Stops answering (connections refused) / answers again on the same port, with the same state. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface IntrospectionClients {
  /** The private_key_jwt client's key (its public half is registered with the provider). */
  readonly clientKey: KeyObject;
  /** Answers signed (RFC 9701 application/token-introspection+jwt) for every client that asks for them. */
  readonly signed?: boolean;
}

export interface ProviderOptions {
  /** Every redirect_uri and post_logout_redirect_uri the client may use. */
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  /** Access-token lifetime in seconds. */
  readonly accessTokenTtlS: number;
  /** Extra claims in every access token (e.g. padding to make it big). */
  readonly extraAccessTokenClaims?: Record<string, unknown>;
  /** The dPoP feature and the OP_DPOP_CLIENT_ID client (client_credentials, DPoP-bound access tokens). */
  readonly dpop?: boolean;
  /** Enable introspection and register its clients (the private_key_jwt client with this key). */
  readonly introspection?: IntrospectionClients;
}

export async function startProvider(opts: ProviderOptions): Promise<RunningProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'op-1', alg: 'ES256', use: 'sig' };
  const introspectionClients = opts.introspection === undefined ? [] : [
    { client_id: OP_POST_CLIENT_ID, client_secret: OP_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post', id_token_signed_response_alg: 'ES256', grant_types: [], response_types: [], redirect_uris: [] },
    {
      client_id: OP_JWT_CLIENT_ID,
      token_endpoint_auth_method: 'private_key_jwt',
      id_token_signed_response_alg: 'ES256',
      jwks: { keys: [{ ...(await exportJWK(createPublicKey(opts.introspection.clientKey))), kid: 'client-1', alg: 'ES256', use: 'sig' }] },
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ];
  const provider = new Provider(issuer, {
    clients: [...introspectionClients, {
      client_id: OP_CLIENT_ID,
      client_secret: OP_CLIENT_SECRET,
      redirect_uris: [...opts.redirectUris],
      post_logout_redirect_uris: [...opts.postLogoutRedirectUris],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }, ...(opts.dpop ? [{
      client_id: OP_DPOP_CLIENT_ID,
      client_secret: OP_CLIENT_SECRET,
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      dpop_bound_access_tokens: true,
      id_token_signed_response_alg: 'ES256',
    }] : [])],
    jwks: { keys: [jwk] },
    scopes: ['openid', 'email', 'offline_access', 'api'],
    claims: { openid: ['sub'], email: ['email'] },
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, email: `${id}@example.test` }) }),
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      ...(opts.introspection !== undefined ? { introspection: { enabled: true, allowedPolicy: () => true } } : {}),
      // RFC 9701: every client gets signed answers when it asks for them.
      ...(opts.introspection?.signed ? { jwtIntrospection: { enabled: true } } : {}),
      rpInitiatedLogout: { enabled: true },
      ...(opts.dpop ? { dPoP: { enabled: true }, clientCredentials: { enabled: true } } : {}),
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://api.test/',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: OP_AUDIENCE,
          accessTokenTTL: opts.accessTokenTtlS,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    pkce: { required: () => true },
    ...(opts.introspection?.signed ? { clientDefaults: { introspection_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256' } } : {}),
    ...(opts.extraAccessTokenClaims ? { extraTokenClaims: async () => opts.extraAccessTokenClaims } : {}),
    cookies: { keys: ['e2e-cookie-key-0123456789abcdef'] },
    ttl: { AccessToken: opts.accessTokenTtlS, IdToken: 3600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
  } as never);
  let introspections = 0;
  const callback = provider.callback();
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/token/introspection')) introspections++;
    void callback(req, res);
  });
  const start = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const stop = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  await start();
  return {
    issuer,
    provider,
    get introspections() { return introspections; },
    async issueOpaque(accountId, scope = 'api', ttlS = opts.accessTokenTtlS) {
      const client = await provider.Client.find(OP_CLIENT_ID);
      const grant = new provider.Grant({ accountId, clientId: OP_CLIENT_ID });
      grant.addResourceScope('https://api.test/', scope);
      const grantId = await grant.save();
      const resourceServer = new provider.ResourceServer('https://api.test/', { scope, audience: OP_AUDIENCE, accessTokenFormat: 'opaque' });
      const token = new provider.AccessToken({ accountId, client, grantId, scope, resourceServer, expiresIn: ttlS } as never);
      return token.save();
    },
    async revoke(token) {
      const found = await provider.AccessToken.find(token);
      await found?.destroy();
    },
    stop,
    start,
    close: stop,
  };
}

export const MTLS_CLIENT_ID = 'workload';
export const MTLS_CLIENT_SECRET = 'a-workload-secret-for-the-e2e-test';

export interface RunningMtlsProvider {
  readonly issuer: string;
  /** The provider's public JWKS (for an inline issuer: Portcullis need not trust the test CA to fetch it). */
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] };
  /**
   * A client_credentials access token for `api.test` (JWT), requested over mutual TLS with `cert` (PEM) and `key`
   * (PEM): RFC 8705 binds it to that certificate (`cnf.x5t#S256`).
   */
  clientCredentialsToken(cert: string, key: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * oidc-provider on HTTPS asking for client certificates (its `mTLS` feature with certificateBoundAccessTokens): a
 * confidential client whose client_credentials access tokens are JWTs for the resource `api.test`, bound to the TLS
 * client certificate of the token request. `tls`: the server certificate and key and the CA to trust, all PEM.
 */
export async function startMtlsProvider(tls: { cert: string; key: string; ca: string }, accessTokenTtlS = 300): Promise<RunningMtlsProvider> {
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'op-mtls', alg: 'ES256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: MTLS_CLIENT_ID,
      client_secret: MTLS_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_certificate_bound_access_tokens: true,
      id_token_signed_response_alg: 'ES256', // the only key is ES256 (no ID token is issued here, but the metadata is checked)
    }],
    jwks: { keys: [jwk] },
    scopes: ['api'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        // The certificate of this very TLS connection (node's TLSSocket), not a header.
        getCertificate: (ctx: { socket: { getPeerX509Certificate?: () => unknown } }) => ctx.socket.getPeerX509Certificate?.(),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'https://api.test/',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api', audience: OP_AUDIENCE, accessTokenTTL: accessTokenTtlS, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
      },
    },
    cookies: { keys: ['e2e-cookie-key-0123456789abcdef'] },
  } as never);
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false }, provider.callback());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'op-mtls', alg: 'ES256', use: 'sig' };

  const post = (path: string, body: string, cert: string, key: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(`${issuer}${path}`, {
      method: 'POST',
      ca: tls.ca,
      cert,
      key,
      agent: false,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${MTLS_CLIENT_ID}:${MTLS_CLIENT_SECRET}`).toString('base64')}`,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });

  return {
    issuer,
    jwks: { keys: [publicJwk] },
    async clientCredentialsToken(cert, key) {
      const res = await post('/token', 'grant_type=client_credentials&scope=api&resource=https%3A%2F%2Fapi.test%2F', cert, key);
      if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${res.body}`);
      return (JSON.parse(res.body) as { access_token: string }).access_token;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
