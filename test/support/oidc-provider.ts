/**
 * panva's oidc-provider (a certified OpenID Provider) in-process on a free loopback port: its development login
 * form and consent page, refresh tokens (offline_access), JWT access tokens for the resource `api.test` (resource
 * indicators) so Portcullis's verifier can verify them, revocation, and RP-initiated logout.
 *
 * With `introspection`, also token introspection (RFC 7662, RFC 9701 signed answers for a client that asks for them)
 * and clients that authenticate with client_secret_post and private_key_jwt; `issueOpaque` mints an opaque access
 * token for an account as the provider's own token endpoint would, and the server counts introspection calls and
 * can be stopped and started again on its port.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK } from 'jose';
import Provider from 'oidc-provider';
import { freePort } from './ports.ts';

export const OP_CLIENT_ID = 'portcullis';
export const OP_CLIENT_SECRET = 'a-client-secret-for-the-e2e-test';
export const OP_AUDIENCE = 'api.test';

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
    }],
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
