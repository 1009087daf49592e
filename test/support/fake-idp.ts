/**
 * A scriptable OpenID Provider on a real loopback socket, for the attack tests of sign-in. It is a stand-in on
 * purpose: the attacks (a foreign nonce, a wrong audience, a signature from another key, a code for another PKCE
 * verifier, a rotated refresh token reused) need a provider that misbehaves on demand, which a certified one never
 * does. The end-to-end test (test/e2e/signin.test.ts) runs panva's real oidc-provider instead.
 *
 * It signs in `alice` at once (no login form): /authorize redirects straight back with a code.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { jwksOf, makeKey, type TestKey } from './tokens.ts';

export const CLIENT_ID = 'portcullis';
export const CLIENT_SECRET = 'client-secret-for-tests';
export const ACCESS_AUDIENCE = 'api.test';

interface Grant {
  readonly challenge: string;
  readonly nonce: string;
  readonly redirectUri: string;
}

export interface FakeIdp {
  readonly issuer: string;
  readonly key: TestKey;
  /** Change the next tokens: extra or overriding claims (undefined removes one). */
  idTokenClaims: Record<string, unknown>;
  accessTokenClaims: Record<string, unknown>;
  /** Sign ID tokens with this key instead (a foreign signature). */
  idTokenKey: TestKey | undefined;
  /** Access-token lifetime in seconds. */
  accessTtlS: number;
  /** Refresh tokens the provider still honours (rotation removes the old one; revoke() empties it). */
  readonly refreshTokens: Set<string>;
  /** Token-endpoint calls by grant type. */
  readonly calls: { authorization_code: number; refresh_token: number };
  /** Publish an end_session_endpoint in discovery. */
  endSession: boolean;
  /** Authorize as a browser would: returns the callback URL the provider redirects to. */
  authorize(url: string): Promise<string>;
  close(): Promise<void>;
}

const b64sha = (s: string) => createHash('sha256').update(s).digest('base64url');

async function body(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startFakeIdp(now: () => number): Promise<FakeIdp> {
  const key = await makeKey('ES256', 'idp-1');
  const grants = new Map<string, Grant>();
  let issuer = '';
  const idp: FakeIdp = {
    get issuer() { return issuer; },
    key,
    idTokenClaims: {},
    accessTokenClaims: {},
    idTokenKey: undefined,
    accessTtlS: 300,
    refreshTokens: new Set(),
    calls: { authorization_code: 0, refresh_token: 0 },
    endSession: true,
    async authorize(url) {
      const u = new URL(url);
      const code = randomBytes(16).toString('base64url');
      grants.set(code, { challenge: u.searchParams.get('code_challenge') ?? '', nonce: u.searchParams.get('nonce') ?? '', redirectUri: u.searchParams.get('redirect_uri') ?? '' });
      const back = new URL(u.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', u.searchParams.get('state') ?? '');
      return back.href;
    },
    close: async () => {},
  };

  const sign = async (claims: Record<string, unknown>, k: TestKey) => {
    const nowS = Math.floor(now() / 1000);
    const payload: Record<string, unknown> = { iss: issuer, iat: nowS, exp: nowS + idp.accessTtlS, ...claims };
    for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' }).sign(k.privateKey);
  };
  const tokens = async (nonce: string | undefined) => {
    const rt = randomBytes(24).toString('base64url');
    idp.refreshTokens.add(rt);
    return {
      token_type: 'Bearer',
      expires_in: idp.accessTtlS,
      access_token: await sign({ aud: ACCESS_AUDIENCE, sub: 'alice', email: 'alice@example.com', ...idp.accessTokenClaims }, key),
      id_token: await sign({ aud: CLIENT_ID, sub: 'alice', ...(nonce !== undefined ? { nonce } : {}), ...idp.idTokenClaims }, idp.idTokenKey ?? key),
      refresh_token: rt,
    };
  };
  const json = (res: import('node:http').ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(value));
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    void (async () => {
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          ...(idp.endSession ? { end_session_endpoint: `${issuer}/logout` } : {}),
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          code_challenge_methods_supported: ['S256'],
        });
      }
      if (url.pathname === '/jwks') return json(res, 200, jwksOf(key));
      if (url.pathname === '/token' && req.method === 'POST') {
        // RFC 6749 2.3.1: client id and secret are form-urlencoded before base64.
        const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
        const [id, secret] = basic.split(':').map((p) => decodeURIComponent(p.replaceAll('+', ' ')));
        if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return json(res, 401, { error: 'invalid_client' });
        const form = await body(req);
        if (form.get('grant_type') === 'authorization_code') {
          idp.calls.authorization_code++;
          const grant = grants.get(form.get('code') ?? '');
          grants.delete(form.get('code') ?? '');
          if (!grant) return json(res, 400, { error: 'invalid_grant', error_description: 'unknown or used code' });
          if (b64sha(form.get('code_verifier') ?? '') !== grant.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
          if (form.get('redirect_uri') !== grant.redirectUri) return json(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri mismatch' });
          return json(res, 200, await tokens(grant.nonce));
        }
        if (form.get('grant_type') === 'refresh_token') {
          idp.calls.refresh_token++;
          const rt = form.get('refresh_token') ?? '';
          if (!idp.refreshTokens.delete(rt)) return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token is not valid' });
          return json(res, 200, await tokens(undefined));
        }
        return json(res, 400, { error: 'unsupported_grant_type' });
      }
      json(res, 404, { error: 'not_found' });
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  idp.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return idp;
}
