/**
 * Claims → identity headers for the upstream. A value that is unsafe as a header value (CR, LF, other control
 * characters) or too long is withheld, never truncated: a truncated identity could name someone else.
 */
import type { IdentityHeaderMapping } from '../config/types.ts';
import type { IdentityHeader } from './types.ts';

const UNSAFE = /[\u0000-\u001f\u007f]/;

export function headerValue(claim: unknown, maxBytes: number): string | undefined {
  let text: string;
  if (typeof claim === 'string') text = claim;
  else if (typeof claim === 'number' || typeof claim === 'boolean') text = String(claim);
  else if (Array.isArray(claim) && claim.length > 0 && claim.every((c) => ['string', 'number', 'boolean'].includes(typeof c))) {
    text = claim.join(',');
  } else return undefined;
  if (text === '' || UNSAFE.test(text) || Buffer.byteLength(text) > maxBytes) return undefined;
  return text;
}

export function identityHeaders(
  claims: Readonly<Record<string, unknown>> | undefined,
  mappings: readonly IdentityHeaderMapping[],
  maxBytes: number,
): IdentityHeader[] {
  return mappings.map(({ claim, header }) => ({
    name: header,
    value: claims === undefined ? undefined : headerValue(claims[claim], maxBytes),
  }));
}
