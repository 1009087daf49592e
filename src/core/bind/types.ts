/** What a binding check (DPoP proof, client certificate) answers the bind step. */
import type { DpopChallenge } from '../deny.ts';
import type { ReasonCode } from '../reasons.ts';

export type BindResult =
  | {
      readonly ok: true;
      /** Headers for the client's response (a fresher DPoP-Nonce, RFC 9449 §8.2). */
      readonly responseHeaders?: readonly (readonly [string, string])[];
    }
  | {
      readonly ok: false;
      readonly status: 401 | 503;
      readonly reason: ReasonCode;
      readonly message: string;
      /** The RFC 9449 §7.1 challenge of a 401 (absent: the plain Bearer challenge). */
      readonly dpop?: DpopChallenge;
    };

export const BOUND: BindResult = Object.freeze({ ok: true });
