/** Wiring for introspection (docs/introspection.md): each issuer with `introspection` gets its endpoint client. */
import type { IssuerConfig } from './core/config.ts';
import type { KeySource } from './core/keys/source.ts';
import type { X5cTrust } from './core/keys/x5c-trust.ts';
import type { TrustedIssuer } from './core/verify.ts';
import { Introspector, type PostFetch } from './core/introspection/client.ts';
import { insecureUrlProblem } from './config/schema.ts';
import type { Runtime } from './app.ts';

/**
 * An issuer as the verifier trusts it. With `introspection`, its endpoint client too: built with the issuer's config
 * (credentials read at load, so a reload that read a new secret file builds a new one).
 */
export function trustedIssuer(issuer: IssuerConfig, keys: KeySource | X5cTrust, runtime: Runtime): TrustedIssuer {
  if (issuer.introspection === undefined) return { config: issuer, keys };
  const introspector = new Introspector({
    issuer: issuer as IssuerConfig & { introspection: NonNullable<IssuerConfig['introspection']> },
    keys,
    // The endpoint needs POST bodies: the runtime's fetch is the global fetch (or a test's stand-in for it).
    fetch: runtime.fetch as unknown as PostFetch,
    now: runtime.now,
    checkUrl: (url) => insecureUrlProblem(url, issuer.allowInsecureHttp),
    ...(runtime.onIntrospectionEvent ? { onEvent: runtime.onIntrospectionEvent } : {}),
  });
  return { config: issuer, keys, introspector };
}

