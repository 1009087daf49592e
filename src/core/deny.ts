/** Builds the one deny shape both transports translate: status, RFC 6750 challenge, small JSON body. */
import type { Deny, IdentityHeader } from './types.ts';
import type { ReasonCode } from './reasons.ts';

export interface DenyInput {
  readonly status: 401 | 403 | 503;
  readonly reason: ReasonCode;
  readonly message: string;
  /** Was a token offered? RFC 6750 3.1: no error attribute when the request had no authentication. */
  readonly tokenOffered: boolean;
  readonly issuer?: string;
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

export function buildDeny(input: DenyInput, ctx: DenyContext): Deny {
  const headers: [string, string][] = [['content-type', 'application/json']];
  let error: string;
  if (input.status === 401) {
    error = input.tokenOffered ? 'invalid_token' : 'unauthorized';
    const attrs = [`realm="${quotable(ctx.realm)}"`];
    if (input.tokenOffered) attrs.push('error="invalid_token"', `error_description="${quotable(input.message)}"`);
    headers.push(['www-authenticate', `Bearer ${attrs.join(', ')}`]);
  } else if (input.status === 403) {
    error = 'forbidden';
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
