/**
 * `issuers[].introspection` (docs/introspection.md): the schema, and the client credentials read at load (and on
 * every reload: a rotated secret file takes effect with the next reload). Problems name the key path and the file,
 * never a secret.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { boolean, def, duration, INVALID, object, oneOf, opt, req, section, string } from './kit.ts';
import { readSecretFile } from './secret-file.ts';
import type { IntrospectionConfig } from '../core/config.ts';
import { Secret } from '../core/secret.ts';

const nonEmpty = string((s) => (s === '' ? 'must not be empty' : null));

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** `endpoint` is checked like every other URL of the issuer (insecureUrlProblem) by the caller. */
export const introspectionSection = object({
  endpoint: opt(nonEmpty, 'the introspection endpoint; default: introspection_endpoint from the issuer\'s discovery document'),
  client_id: req(nonEmpty, 'our client at the IdP'),
  client_secret_file: opt(nonEmpty, 'file holding the client secret (client_secret_basic, client_secret_post); re-read on reload, never shown'),
  private_key_file: opt(nonEmpty, 'PEM private key or private JWK for private_key_jwt; re-read on reload, never shown'),
  auth_method: def(oneOf(AUTH_METHODS), 'client_secret_basic', 'how we authenticate at the endpoint'),
  opaque_tokens: def(boolean, false, 'tokens that are not a compact JWS are introspected at this issuer (at most one issuer)'),
  jwt_tokens: def(boolean, false, 'a JWT of this issuer that verified locally is introspected too (revocation)'),
  cache: section({
    max_ttl: def(duration(1000), 60_000, 'an active answer is cached until the earlier of its exp and this'),
    inactive_ttl: def(duration(0), 5_000, 'an inactive answer is cached this long'),
  }, 'the introspection answers cache (keyed by the token\'s SHA-256)'),
  timeout: def(duration(100), 2_000, 'no answer by then: 503 introspection_unavailable'),
});

export type RawIntrospection = Exclude<ReturnType<typeof introspectionSection>, typeof INVALID>;

export interface IntrospectionContext {
  readonly at: string;
  readonly baseDir: string;
  readonly hasDiscovery: boolean;
  /** insecureUrlProblem with the issuer's allow_insecure_http. */
  readonly urlProblem: (url: string) => string | null;
}

export function toIntrospectionConfig(raw: RawIntrospection, ctx: IntrospectionContext, problems: string[]): IntrospectionConfig {
  const at = `${ctx.at}.introspection`;
  if (raw.endpoint !== undefined) {
    const problem = ctx.urlProblem(raw.endpoint);
    if (problem) problems.push(`${at}.endpoint: ${problem}`);
  } else if (!ctx.hasDiscovery) {
    problems.push(`${at}.endpoint: required unless the issuer uses discovery (discovery: true or openid_configuration)`);
  }
  if (!raw.opaque_tokens && !raw.jwt_tokens) problems.push(`${at}: introspects nothing: set opaque_tokens or jwt_tokens (or both) to true`);
  const credentials: { -readonly [K in 'clientSecret' | 'privateKey' | 'privateKeyId']?: IntrospectionConfig[K] } = {};
  if (raw.auth_method === 'private_key_jwt') {
    if (raw.client_secret_file !== undefined) problems.push(`${at}.client_secret_file: auth_method private_key_jwt takes private_key_file instead`);
    if (raw.private_key_file === undefined) problems.push(`${at}.private_key_file: required with auth_method private_key_jwt`);
    else Object.assign(credentials, readPrivateKey(raw.private_key_file, `${at}.private_key_file`, ctx.baseDir, problems));
  } else {
    if (raw.private_key_file !== undefined) problems.push(`${at}.private_key_file: only with auth_method private_key_jwt (${raw.auth_method} takes client_secret_file)`);
    if (raw.client_secret_file === undefined) problems.push(`${at}.client_secret_file: required with auth_method ${raw.auth_method}`);
    else {
      const secret = readSecretFile(raw.client_secret_file, `${at}.client_secret_file`, ctx.baseDir, problems);
      if (secret !== undefined) credentials.clientSecret = new Secret(secret);
    }
  }
  return {
    ...(raw.endpoint !== undefined ? { endpoint: raw.endpoint } : {}),
    clientId: raw.client_id,
    authMethod: raw.auth_method,
    ...credentials,
    opaqueTokens: raw.opaque_tokens,
    jwtTokens: raw.jwt_tokens,
    maxTtlMs: raw.cache.max_ttl,
    inactiveTtlMs: raw.cache.inactive_ttl,
    timeoutMs: raw.timeout,
  };
}

/** Key types a client assertion can be signed with (oauth4webapi picks the algorithm from the key). */
const ASSERTION_KEYS = new Set(['rsa', 'ec', 'ed25519']);

/** A PEM (PKCS#8 or SEC1/PKCS#1) or private JWK file; a problem never quotes the file's content. */
function readPrivateKey(file: string, at: string, baseDir: string, problems: string[]): Pick<IntrospectionConfig, 'privateKey' | 'privateKeyId'> {
  const text = readSecretFile(file, at, baseDir, problems);
  if (text === undefined) return {};
  let key: KeyObject;
  let kid: string | undefined;
  try {
    if (text.startsWith('{')) {
      const jwk = JSON.parse(text) as Record<string, unknown>;
      kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      key = createPrivateKey({ key: jwk as never, format: 'jwk' });
    } else {
      key = createPrivateKey(text);
    }
  } catch {
    problems.push(`${at}: ${file} is not a PEM private key or a private JWK`);
    return {};
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (!ASSERTION_KEYS.has(key.asymmetricKeyType ?? '') || (key.asymmetricKeyType === 'ec' && curve !== 'prime256v1' && curve !== 'secp384r1' && curve !== 'secp521r1')) {
    problems.push(`${at}: ${file} holds a ${key.asymmetricKeyType ?? 'unknown'} key; use RSA (2048 bits or more), EC P-256/P-384/P-521 or Ed25519`);
    return {};
  }
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    problems.push(`${at}: ${file} holds an RSA key under 2048 bits`);
    return {};
  }
  return { privateKey: new Secret(key), ...(kid !== undefined ? { privateKeyId: kid } : {}) };
}
