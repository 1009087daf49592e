/**
 * Decision logs: one JSON line per deny (info; 503 keys_unavailable at warn; internal_error at error) and, when asked
 * for, per allow (every allow at log_level debug, or a sampled share with telemetry.log_allows).
 *
 * A line carries the reason code, the human message (for an audience mismatch: the expected list and the received
 * value), issuer, route, the original request (method, host, path WITHOUT the query string), client address, trace
 * and span ids, and a token fingerprint — the first 12 hex digits of SHA-256(token) — so the same token can be
 * followed across lines. Never the token, a signature, a claim other than the subject (only with record_subject),
 * nor the query string (where tokens sometimes travel).
 *
 * Lines go to a LineWriter that queues and writes off the request path (log.ts bufferedLineWriter).
 */
import type { SpanContext } from '@opentelemetry/api';
import type { Config } from '../core/config.ts';
import type { AuthRequest, Decision } from '../core/types.ts';
import { Reasons } from '../core/reasons.ts';
import { findToken, tokenFingerprint } from '../core/sources.ts';
import { jsonLogger, type Level, type LineWriter, type Logger } from '../log.ts';
import { clip } from '../core/text.ts';

export interface DecisionLogOptions {
  /** telemetry.log_level */
  readonly level: Level;
  /** telemetry.log_allows as a rate, 0 … 1 */
  readonly allowRate: number;
  readonly recordSubject: boolean;
  /** Where tokens are read from (to fingerprint the offered one). */
  readonly tokens: Config['tokens'];
  readonly out: LineWriter;
  readonly random?: () => number;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const MAX_PATH = 512;

export class DecisionLog {
  readonly #min: number;
  readonly #allowRate: number;
  readonly #recordSubject: boolean;
  /** Token sources without the size limit: an oversized token is still fingerprinted. */
  readonly #tokens: Config['tokens'];
  readonly #random: () => number;
  readonly #logger: Logger;

  constructor(options: DecisionLogOptions) {
    this.#min = ORDER[options.level];
    this.#allowRate = options.allowRate;
    this.#recordSubject = options.recordSubject;
    this.#tokens = { ...options.tokens, maxBytes: Number.MAX_SAFE_INTEGER };
    this.#random = options.random ?? Math.random;
    const out = options.out;
    this.#logger = jsonLogger('debug', (line) => out.write(line));
  }

  /** The level of this decision's line, or undefined when it gets none. No allocation: called for every decision. */
  levelFor(decision: Decision): Level | undefined {
    if (decision.kind === 'allow') {
      // A single-use token allowed without its check (store failing, on_store_error: allow) is an audit event.
      if (decision.replay === 'store_error_allowed') return this.#min <= ORDER.warn ? 'warn' : undefined;
      if (this.#allowRate > 0 && (this.#allowRate >= 1 || this.#random() < this.#allowRate)) return 'info';
      return this.#min <= ORDER.debug ? 'debug' : undefined;
    }
    const level: Level = decision.reason === Reasons.internalError ? 'error' : decision.status === 503 ? 'warn' : 'info';
    return ORDER[level] >= this.#min ? level : undefined;
  }

  write(level: Level, request: AuthRequest, decision: Decision, seconds: number, span: SpanContext | undefined): void {
    const allow = decision.kind === 'allow';
    const subject = allow && this.#recordSubject ? decision.claims?.sub : undefined;
    this.#logger.log(level, allow ? 'allow' : 'deny', {
      decision: decision.kind,
      reason: decision.reason,
      status: allow ? 200 : decision.status,
      ...(allow ? {} : { message: decision.message }),
      transport: request.transport,
      method: clip(request.method, 32),
      host: clip(request.host, 256),
      path: pathOnly(request.path),
      client_address: request.clientAddress,
      issuer: decision.issuer,
      kid: allow ? decision.kid : undefined,
      route: routeOf(decision),
      token_fingerprint: this.#fingerprint(request),
      token_bytes: decision.tokenBytes,
      ...(decision.replay !== undefined ? { replay: decision.replay } : {}),
      ...(typeof subject === 'string' ? { subject } : {}),
      trace_id: span?.traceId,
      span_id: span?.spanId,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    });
  }

  #fingerprint(request: AuthRequest): string | undefined {
    const found = findToken(request.headers, this.#tokens);
    return found.kind === 'token' ? tokenFingerprint(found.token) : undefined;
  }
}


/** The rule that decided (Decision.rule, once routes exist), if the decision names one. */
export function routeOf(decision: Decision): string | undefined {
  const rule = (decision as { readonly rule?: unknown }).rule;
  return typeof rule === 'string' && rule !== '' ? rule : undefined;
}

/** The path without its query string (tokens and other secrets travel there) or fragment, clipped. */
export function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  const bare = end === -1 ? path : path.slice(0, end);
  return clip(bare, MAX_PATH);
}
