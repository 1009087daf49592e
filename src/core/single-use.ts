/**
 * The single-use step of a decision: runs last, on a token whose signature, claims and rule requirements all passed
 * (also when the verified-token cache answered: every use consumes). It applies when the token's issuer has
 * `replay: true` or the rule says `require: { single_use: true }`.
 */
import type { IssuerConfig, ReplayConfig } from './config.ts';
import type { Rule } from './policy/types.ts';
import { Reasons, type ReasonCode } from './reasons.ts';
import { consumeOnce, replayKey, replayTtlMs, type ReplayCheck, type ReplayStore } from './replay.ts';
import { clip } from './text.ts';
import type { Explain } from './explain.ts';

export type SingleUseResult =
  | { readonly ok: true; readonly check?: ReplayCheck }
  | { readonly ok: false; readonly check: ReplayCheck; readonly status: 401 | 503; readonly reason: ReasonCode; readonly message: string };

const NOT_APPLICABLE: SingleUseResult = { ok: true };

export class SingleUse {
  readonly #store: ReplayStore | null;
  readonly #onStoreError: ReplayConfig['onStoreError'];
  readonly #now: () => number;
  readonly #issuers: ReadonlyMap<string, IssuerConfig>;

  constructor(store: ReplayStore | null, replay: ReplayConfig, issuers: readonly IssuerConfig[], now: () => number) {
    this.#store = store;
    this.#onStoreError = replay.onStoreError;
    this.#now = now;
    this.#issuers = new Map(issuers.map((i) => [i.issuer, i]));
  }

  applies(issuer: string, rule: Rule): boolean {
    return rule.singleUse === true || this.#issuers.get(issuer)?.replay === true;
  }

  /** With `explain` the jti is never consumed: explaining a request must not use up its token. */
  async check(claims: Readonly<Record<string, unknown>>, issuer: string, rule: Rule, explain?: Explain): Promise<SingleUseResult> {
    if (!this.applies(issuer, rule)) return NOT_APPLICABLE;
    const why = rule.singleUse === true ? `rule ${rule.name} requires single_use` : `issuer ${issuer} has replay: true`;
    const jti = claims.jti;
    if (typeof jti !== 'string' || jti === '') {
      const message = 'this token must be single-use but has no "jti" claim';
      explain?.({ check: 'single use', ok: false, detail: `${why}; ${message}` });
      return { ok: false, check: 'jti_missing', status: 401, reason: Reasons.jtiMissing, message };
    }
    if (explain) {
      explain({ check: 'single use', ok: true, detail: `${why}; jti ${JSON.stringify(clip(jti, 64))} would be consumed now (explain never consumes it)` });
      return { ok: true };
    }
    const trusted = this.#issuers.get(issuer);
    const ttl = replayTtlMs(claims.exp as number, trusted?.leewayMs ?? 0, this.#now());
    const check = await consumeOnce(this.#store, replayKey(issuer, jti), ttl, this.#onStoreError);
    if (check === 'fresh' || check === 'store_error_allowed') return { ok: true, check };
    if (check === 'replayed') return { ok: false, check, status: 401, reason: Reasons.tokenReplayed, message: 'this single-use token was already used' };
    return { ok: false, check, status: 503, reason: Reasons.replayStoreUnavailable, message: 'the replay store cannot be reached; single-use tokens are refused until it is back' };
  }
}
