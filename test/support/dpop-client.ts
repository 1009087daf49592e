/**
 * oauth4webapi as a real DPoP client (RFC 9449): it gets a DPoP-bound JWT access token from oidc-provider with
 * client_credentials, and makes the proof of each request. `proofHeaders` lets oauth4webapi build a request for a
 * URL and captures its Authorization and DPoP headers instead of sending it, so the same client-made proof can be
 * carried over any transport (a CheckRequest, forward-auth headers, Envoy HTTP mode).
 */
import type { webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { OP_CLIENT_SECRET, OP_DPOP_CLIENT_ID } from './oidc-provider.ts';

export interface DpopClient {
  readonly keyPair: webcrypto.CryptoKeyPair;
  /** A DPoP handle for this key, optionally with a clock `skewS` seconds off (old or future proofs). */
  handle(skewS?: number): oauth.DPoPHandle;
  /** A fresh DPoP-bound access token for resource https://api.test/. */
  token(): Promise<string>;
}

type CryptoKeyPairOf = Parameters<typeof oauth.DPoP>[1];

const insecure = { [oauth.allowInsecureRequests]: true } as const;

export async function dpopClient(issuer: string, alg = 'ES256'): Promise<DpopClient> {
  const url = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, insecure));
  const keyPair = (await oauth.generateKeyPair(alg, { extractable: true })) as webcrypto.CryptoKeyPair;
  const client: oauth.Client = { client_id: OP_DPOP_CLIENT_ID };
  const main = oauth.DPoP(client, keyPair as CryptoKeyPairOf);
  return {
    keyPair,
    handle: (skewS = 0) => (skewS === 0 ? main : oauth.DPoP({ [oauth.clockSkew]: skewS }, keyPair as CryptoKeyPairOf)),
    async token() {
      const params = new URLSearchParams({ scope: 'api', resource: 'https://api.test/' });
      const ask = () => oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(OP_CLIENT_SECRET), params, { DPoP: main, ...insecure });
      let result: oauth.TokenEndpointResponse;
      try {
        result = await oauth.processClientCredentialsResponse(as, client, await ask());
      } catch (e) {
        if (!oauth.isDPoPNonceError(e)) throw new Error(`token request failed: ${JSON.stringify((e as { cause?: unknown }).cause)}`);
        result = await oauth.processClientCredentialsResponse(as, client, await ask());
      }
      return result.access_token;
    },
  };
}

/**
 * The Authorization and DPoP headers oauth4webapi sends for `method url` with `token`, captured, not sent. With
 * `nonce`, the handle first learns it the way it learns one from a server answer (a DPoP-Nonce response header).
 */
export async function proofHeaders(handle: oauth.DPoPHandle, token: string, method: string, url: string, nonce?: string): Promise<{ authorization: string; dpop: string }> {
  let captured: Headers | undefined;
  const make = (answer: Record<string, string>) => oauth.protectedResourceRequest(token, method, new URL(url), new Headers(), null, {
    DPoP: handle,
    ...insecure,
    [oauth.customFetch]: async (_url, init) => {
      captured = new Headers(init.headers);
      return new Response(null, { status: 204, headers: answer });
    },
  });
  if (nonce !== undefined) await make({ 'dpop-nonce': nonce });
  await make({});
  return { authorization: captured!.get('authorization')!, dpop: captured!.get('dpop')! };
}

/** The public JWK of the client's key, as a proof embeds it, and its private `d`. */
export async function exportedJwk(keyPair: webcrypto.CryptoKeyPair): Promise<{ publicJwk: webcrypto.JsonWebKey; d: string }> {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
  const { d } = await crypto.subtle.exportKey('jwk', keyPair.privateKey);
  return { publicJwk: { kty, crv, x, y } as webcrypto.JsonWebKey, d: d! };
}
