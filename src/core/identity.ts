/**
 * Claims → identity header values for the upstream. A value that is not safe header text (core/text.ts: control
 * characters including C1, unpaired surrogates) or is too long is withheld, never truncated or repaired: a
 * truncated or repaired identity could name someone else (`al\ud800ice` and `al\udbffice` would both become
 * `al\ufffdice`).
 */
import { isSafeHeaderValue } from './text.ts';

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
