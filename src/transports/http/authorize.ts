/**
 * One HTTP authorization exchange, for every endpoint that answers a proxy (forward auth, Envoy HTTP mode):
 * translate the request, ask the authorizer, render the decision. Never rejects: a translation or authorizer
 * failure is answered with the core's internal-error deny, never a crash and never an allow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthRequest, Authorizer, Decision } from '../../core/types.ts';
import { internalErrorDeny, type DenyContext } from '../../core/deny.ts';
import type { Later } from '../../core/sync.ts';
import { writeDecision, type RenderMode } from './render.ts';

export interface AuthorizeOptions {
  readonly authorizer: Authorizer;
  /** Realm and every identity header any answer can set (core/deny.ts denyContextOf). */
  readonly deny: DenyContext;
  readonly mode: RenderMode;
  /** The proxy's request → AuthRequest (an unreadable one carries `invalid`, which the core denies). */
  readonly translate: (req: IncomingMessage) => AuthRequest;
  /** Adjusts the decision for this endpoint (forward_auth.redirect_status: 401). */
  readonly adjust?: (decision: Decision) => Decision;
}

/** Answers now when the decision is synchronous; otherwise returns the promise of the answer (which never rejects). */
export type AuthorizationHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | undefined;

export function authorizationHandler(opts: AuthorizeOptions): AuthorizationHandler {
  const failed = internalErrorDeny(opts.deny);
  // One array for the endpoint's life: the renderer shares allow answers per identity array and this list.
  const identityHeaders = opts.deny.cleared.map((h) => h.name);
  const answer = (res: ServerResponse, result: unknown): void => {
    let decision: Decision = failed;
    try {
      if (typeof result === 'object' && result !== null) decision = opts.adjust !== undefined ? opts.adjust(result as Decision) : (result as Decision);
    } catch {
      decision = failed;
    }
    writeDecision(res, decision, failed, identityHeaders, opts.mode);
  };
  return (req, res) => {
    // A request body (if any) is irrelevant: node:http discards what the handler did not read once the answer is sent.
    let result: Later<Decision>;
    try {
      result = opts.authorizer.check(opts.translate(req));
    } catch {
      result = failed;
    }
    if (result instanceof Promise) {
      return result.then((d) => answer(res, d), () => answer(res, failed));
    }
    answer(res, result);
    return undefined;
  };
}
