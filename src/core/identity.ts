/**
 * Claims → identity header values for the upstream. A value that is not safe header text (core/text.ts: control
 * characters including C1, unpaired surrogates) or is too long is withheld, never truncated or repaired: a
 * truncated or repaired identity could name someone else (`al\ud800ice` and `al\udbffice` would both become
 * `al\ufffdice`).
 */
import { isSafeHeaderValue } from './text.ts';
import type { Config } from './config.ts';
import { AMBIGUOUS, claimValue } from './claim-path.ts';

/**
 * Every identity header any answer can set (global, per rule, the payload header, an x5c issuer's certificate
 * headers, the client certificate's), lower-cased, in a fixed order. Allows set or clear each one; denies clear each one, so a client's own
 * copy never reaches the upstream.
 */
export function identityHeaderNames(config: Pick<Config, 'identityHeaders' | 'policy'> & { readonly issuers?: Config['issuers']; readonly clientCertificate?: Config['clientCertificate'] }): readonly string[] {
  const rules = [...config.policy.routes.map((r) => r.rule), ...config.policy.policies.values()];
  return [
    ...new Set([
      ...config.identityHeaders.map((h) => h.header),
      ...rules.flatMap((r) => r.identityHeaders.map((h) => h.header)),
      ...(config.policy.payloadHeader !== null ? [config.policy.payloadHeader] : []),
      ...(config.issuers ?? []).flatMap((i) => [i.identityHeadersFromCert?.subject, i.identityHeadersFromCert?.sans].filter((h) => h !== undefined)),
      ...[config.clientCertificate?.identityHeaders].flatMap((h) => [h?.subject, h?.sans, h?.thumbprint].filter((n) => n !== undefined)),
    ]),
  ];
}

/**
 * The header value for a configured claim name, a claim path (core/claim-path.ts). A path that resolves in more
 * than one way in this token leaves the header empty, like a missing claim: it fails closed.
 */
export function claimHeaderValue(claims: Readonly<Record<string, unknown>>, name: string, maxBytes: number): string | undefined {
  const value = claimValue(claims, name);
  return value === AMBIGUOUS ? undefined : headerValue(value, maxBytes);
}

/** Scalars as text, a non-empty array of scalars joined by ","; anything else (objects, null, mixed arrays): none. */
export function headerValue(claim: unknown, maxBytes: number): string | undefined {
  let text: string;
  if (typeof claim === 'string') text = claim;
  else if (typeof claim === 'number' || typeof claim === 'boolean') text = String(claim);
  else if (Array.isArray(claim) && claim.length > 0 && claim.every((c) => ['string', 'number', 'boolean'].includes(typeof c))) {
    text = claim.join(',');
  } else return undefined;
  if (text === '' || !isSafeHeaderValue(text) || Buffer.byteLength(text) > maxBytes) return undefined;
  return text;
}
