/**
 * Builds every deny, whoever decides it (the core, an adapter that cannot read the request, the guard around a
 * failing authorizer): status, RFC 6750 challenge, and the one body shape `{error, reason, message}`.
 */
import type { Deny, DenyStatus, IdentityHeader, InvalidRequestReason } from './types.ts';
import { Reasons, type ReasonCode } from './reasons.ts';
import type { Config } from './config.ts';
import { identityHeaderNames } from './identity.ts';

export interface DenyInput {
  readonly status: Exclude<DenyStatus, 302>;
  readonly reason: ReasonCode;
  readonly message: string;
  /** Was a token offered? RFC 6750 3.1: no error attribute when the request had no authentication. */
  readonly tokenOffered: boolean;
  readonly issuer?: string;
  /** For 403: the scopes the route requires and the token lacks (RFC 6750 `scope` attribute). */
  readonly scopes?: readonly string[];
  /** For 401 of a sender-constraint check (core/bind): the RFC 9449 §7.1 `DPoP` challenge, placed first. */
  readonly dpop?: DpopChallenge;
}

/** RFC 9449 §7.1 and §8: what a `WWW-Authenticate: DPoP …` challenge says, and the nonce to send beside it. */
export interface DpopChallenge {
  /** The proof algorithms accepted (`algs`). */
  readonly algs: readonly string[];
  /** invalid_dpop_proof: the proof; invalid_token: the binding; use_dpop_nonce: retry with DPoP-Nonce. None: bound tokens only. */
  readonly error?: 'invalid_dpop_proof' | 'invalid_token' | 'use_dpop_nonce';
  /** A fresh server nonce, answered in `DPoP-Nonce`. */
  readonly nonce?: string;
}

export interface DenyContext {
  readonly realm: string;
  /** Every configured identity header with no value: a deny never lets one through. Built once at start. */
  readonly cleared: readonly IdentityHeader[];
}

/** RFC 6750 quoted strings allow %x20-21 / %x23-5B / %x5D-7E only. */
export function quotable(text: string, max = 200): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, "'");
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

/** The RFC 6750 `WWW-Authenticate: Bearer …` value; `error` only when a token was offered (section 3.1). */
export function bearerChallenge(realm: string, error?: { code: 'invalid_token' | 'insufficient_scope'; description: string; scopes?: readonly string[] }): string {
  const attrs = [`realm="${quotable(realm)}"`];
  if (error) {
    attrs.push(`error="${error.code}"`, `error_description="${quotable(error.description)}"`);
    if (error.scopes?.length) attrs.push(`scope="${quotable(error.scopes.join(' '))}"`);
  }
  return `Bearer ${attrs.join(', ')}`;
}

/**
 * The `WWW-Authenticate: DPoP …` value. It goes before the Bearer challenge: nginx's auth_request passes on only the
 * first WWW-Authenticate line of our answer, and for a sender-constraint deny the DPoP one is the one that matters.
 */
export function dpopChallenge(realm: string, challenge: DpopChallenge, description: string): string {
  const attrs = [`realm="${quotable(realm)}"`, `algs="${challenge.algs.join(' ')}"`];
  if (challenge.error !== undefined) attrs.push(`error="${challenge.error}"`, `error_description="${quotable(description)}"`);
  return `DPoP ${attrs.join(', ')}`;
}

export function buildDeny(input: DenyInput, ctx: DenyContext): Deny {
  const headers: [string, string][] = [['content-type', 'application/json']];
  let error: string;
  if (input.status === 401 && input.dpop !== undefined) {
    error = input.dpop.error ?? 'invalid_token';
    headers.push(['www-authenticate', dpopChallenge(ctx.realm, input.dpop, input.message)], ['www-authenticate', bearerChallenge(ctx.realm)]);
    if (input.dpop.nonce !== undefined) headers.push(['dpop-nonce', input.dpop.nonce]);
  } else if (input.status === 401) {
    error = input.tokenOffered ? 'invalid_token' : 'unauthorized';
    headers.push(['www-authenticate', bearerChallenge(ctx.realm, input.tokenOffered ? { code: 'invalid_token', description: input.message } : undefined)]);
  } else if (input.status === 403) {
    error = 'forbidden';
    if (input.tokenOffered) {
      error = 'insufficient_scope';
      headers.push(['www-authenticate', bearerChallenge(ctx.realm, { code: 'insufficient_scope', description: input.message, ...(input.scopes ? { scopes: input.scopes } : {}) })]);
    }
  } else if (input.status === 400) {
    error = 'bad_request';
  } else if (input.status === 413) {
    error = 'request_too_large';
  } else {
    error = 'unavailable';
    headers.push(['retry-after', '5']);
  }
  const body = JSON.stringify({ error, reason: input.reason, message: input.message });
  return {
    kind: 'deny',
    status: input.status,
    reason: input.reason,
    message: input.message,
    headers,
    body,
    identity: ctx.cleared,
    ...(input.issuer !== undefined ? { issuer: input.issuer } : {}),
  };
}

/** A browser navigation without a usable token: 302 to the login page (the reason still says why). */
export function buildRedirect(location: string, reason: ReasonCode, message: string, ctx: DenyContext): Deny {
  return {
    kind: 'deny',
    status: 302,
    reason,
    message,
    headers: [['location', location], ['content-type', 'application/json']],
    body: JSON.stringify({ error: 'login_required', reason, message }),
    identity: ctx.cleared,
  };
}

/** The deny context of a config: its realm and every identity header any answer can set, cleared. */
export function denyContextOf(config: Pick<Config, 'realm' | 'identityHeaders' | 'policy'>): DenyContext {
  const cleared = Object.freeze(identityHeaderNames(config).map((name) => Object.freeze({ name, value: undefined })));
  return Object.freeze({ realm: config.realm, cleared });
}

/** Portcullis could not decide (a bug, a failing authorizer, an answer that cannot be written): still a deny. */
export function internalErrorDeny(ctx: DenyContext): Deny {
  return buildDeny({ status: 503, reason: Reasons.internalError, message: 'internal error', tokenOffered: false }, ctx);
}

const INVALID_STATUS: Readonly<Record<InvalidRequestReason, Exclude<DenyStatus, 302>>> = {
  original_request_missing: 403,
  request_malformed: 400,
  request_too_large: 413,
};

/** The adapter could not read the original request (AuthRequest.invalid). */
export function invalidRequestDeny(invalid: { readonly reason: InvalidRequestReason; readonly message: string }, ctx: DenyContext): Deny {
  return buildDeny({ status: INVALID_STATUS[invalid.reason], reason: invalid.reason, message: invalid.message, tokenOffered: false }, ctx);
}
