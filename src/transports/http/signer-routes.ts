/**
 * The signer's HTTP endpoints: the forward-auth signing endpoint (`/sign`, for Caddy's `forward_auth … copy_headers
 * Authorization`) and the publication of its public keys (`<issuer path>/.well-known/jwks.json` and
 * `/.well-known/openid-configuration`), so a receiving Portcullis verifies with `discovery: true`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SignerConfig } from '../../core/config.ts';
import type { Authorizer } from '../../core/types.ts';
import type { DenyContext } from '../../core/deny.ts';
import { toAuthRequest } from './forward-auth.ts';
import { authorizationHandler } from './authorize.ts';
import type { RouteHandler } from './server.ts';

export interface SignerRoutesOptions {
  readonly signer: SignerConfig;
  readonly authorizer: Authorizer;
  /** Realm and every identity header (core/deny.ts denyContextOf). */
  readonly deny: DenyContext;
  /** The JWKS to publish now (public members only). */
  readonly jwks: () => { keys: readonly Readonly<Record<string, string>>[] };
  readonly maxAgeSeconds: number;
}

/** Path → handler for the server's extra routes. */
export function signerRoutes(o: SignerRoutesOptions): Map<string, RouteHandler> {
  const base = new URL(o.signer.issuer).pathname.replace(/\/+$/, '');
  const jwksPath = `${base}/.well-known/jwks.json`;
  const jwksUri = `${o.signer.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  const discovery = JSON.stringify({
    issuer: o.signer.issuer,
    jwks_uri: jwksUri,
    id_token_signing_alg_values_supported: [o.signer.algorithm],
    token_endpoint_auth_signing_alg_values_supported: [o.signer.algorithm],
  });
  const cache = `public, max-age=${o.maxAgeSeconds}`;
  // A forward-auth endpoint (X-Forwarded-* family, as Caddy sends it) whose requests the signer's policy decides.
  const policy = new Map([['policy', o.signer.endpointPolicy]]);
  const sign = authorizationHandler({
    authorizer: o.authorizer,
    deny: o.deny,
    mode: 'forward_auth',
    translate: (req) => ({ ...toAuthRequest(req, 'x-forwarded'), endpoint: o.signer.endpoint, contextExtensions: policy }),
  });
  return new Map<string, RouteHandler>([
    [o.signer.endpoint, (req, res) => void sign(req, res)?.catch(() => res.destroy())],
    [jwksPath, (req, res) => publish(req, res, JSON.stringify(o.jwks()), cache)],
    [`${base}/.well-known/openid-configuration`, (req, res) => publish(req, res, discovery, cache)],
  ]);
}

function publish(req: IncomingMessage, res: ServerResponse, body: string, cacheControl: string): void {
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method_not_allowed"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': cacheControl });
  res.end(req.method === 'HEAD' ? undefined : body);
}
