/**
 * panva's oidc-provider (a certified OpenID Provider) in-process on a free loopback port: its development login
 * form and consent page, refresh tokens (offline_access), JWT access tokens for the resource `api.test` (resource
 * indicators) so Portcullis's verifier can verify them, revocation, and RP-initiated logout. With `dpop: true`, also
 * its `dPoP` feature and a client_credentials client (OP_DPOP_CLIENT_ID) whose JWT access tokens are DPoP-bound
 * (`cnf.jkt`).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Server } from 'node:http';
import { exportJWK } from 'jose';
import Provider from 'oidc-provider';
import { freePort } from './ports.ts';

export const OP_CLIENT_ID = 'portcullis';
export const OP_CLIENT_SECRET = 'a-client-secret-for-the-e2e-test';
export const OP_AUDIENCE = 'api.test';
/** With `dpop: true`: a machine client (client_credentials, client_secret_basic) that must present DPoP proofs. */
export const OP_DPOP_CLIENT_ID = 'dpop-machine';

export interface RunningProvider {
  readonly issuer: string;
  readonly provider: InstanceType<typeof Provider>;
  close(): Promise<void>;
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
}

export async function startProvider(opts: ProviderOptions): Promise<RunningProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'op-1', alg: 'ES256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [{
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
    ...(opts.extraAccessTokenClaims ? { extraTokenClaims: async () => opts.extraAccessTokenClaims } : {}),
    cookies: { keys: ['e2e-cookie-key-0123456789abcdef'] },
    ttl: { AccessToken: opts.accessTokenTtlS, IdToken: 3600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
  } as never);
  const server: Server = await new Promise((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    issuer,
    provider,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
