/**
 * One HTTP authorization exchange, for every endpoint that answers a proxy (forward auth, Envoy HTTP mode):
 * translate the request, ask the authorizer, render the decision. Never rejects: a translation or authorizer
 * failure is answered with the core's internal-error deny, never a crash and never an allow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthRequest, Authorizer, Decision } from '../../core/types.ts';
import { internalErrorDeny, type DenyContext } from '../../core/deny.ts';
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

export type AuthorizationHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function authorizationHandler(opts: AuthorizeOptions): AuthorizationHandler {
  const failed = internalErrorDeny(opts.deny);
  // One array for the endpoint's life: the renderer shares allow answers per identity array and this list.
  const identityHeaders = opts.deny.cleared.map((h) => h.name);
  return async (req, res) => {
    // The request body (if any) is irrelevant; drain it so the connection can be reused.
    req.resume();
    let decision: Decision;
    try {
      decision = await opts.authorizer.check(opts.translate(req));
      if (typeof decision !== 'object' || decision === null) throw new Error('the authorizer answered no decision');
      if (opts.adjust !== undefined) decision = opts.adjust(decision);
    } catch {
      decision = failed;
    }
    writeDecision(res, decision, failed, identityHeaders, opts.mode);
  };
}
