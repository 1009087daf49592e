/** Route policies as the core sees them once config validation has built them (see config/schema.ts). */
import type { CelCondition } from './cel.ts';

/**
 * A claim condition: `equals` a value, is `one_of` several, `contains` a value (array claims), is `present`, or
 * (a string, or any string element of an array) starts with a `prefix`.
 */
export type ClaimCondition =
  | { readonly equals: string | number | boolean }
  | { readonly prefix: string }
  | { readonly one_of: readonly (string | number | boolean)[] }
  | { readonly contains: string | number | boolean }
  | { readonly present: true };

/**
 * Everything listed must hold (AND); `any` needs one of its entries, `all` every one, `not` its entry not to hold.
 * Claim names are claim paths (core/claim-path.ts).
 */
export interface Requirement {
  readonly issuers?: readonly string[];
  readonly audiences?: readonly string[];
  readonly scopes?: readonly string[];
  readonly claims?: Readonly<Record<string, ClaimCondition>>;
  readonly any?: readonly Requirement[];
  readonly all?: readonly Requirement[];
  /** Holds when the inner requirement does not; an error inside (an ambiguous claim path) stays an error. */
  readonly not?: Requirement;
  /** `when`: a CEL expression, compiled and type-checked at config load (cel.ts); only `true` holds. */
  readonly when?: CelCondition;
}

export interface LoginRedirect {
  /** Login page; `{return_url}` is replaced by the percent-encoded URL of the original request. */
  readonly url: string;
  /** Hosts a return URL may point at (exact or `*.example.com`). Others get no return URL. */
  readonly returnHosts: readonly string[];
}

/** What a matched route (or named policy, or the default) asks of a request. */
export interface Rule {
  readonly name: string;
  readonly require?: Requirement;
  /** `optional`: verify a token when one is sent, allow without one (no identity). */
  readonly anonymous: 'required' | 'optional';
  /** Browser navigations denied for a missing/invalid token are redirected here; null = plain 401. */
  readonly login: LoginRedirect | null;
  /** Extra claim → header mappings on top of the global identity_headers. */
  readonly identityHeaders: readonly { readonly claim: string; readonly header: string }[];
  /** `require: { single_use: true }`: every token this rule allows is consumed (its jti) once. */
  readonly singleUse?: boolean;
  /** `require: { sender_constrained: true }`: only a DPoP- or certificate-bound token (`cnf`) passes (core/bind). */
  readonly senderConstrained?: boolean;
  /** `sign:` the answer sets a token minted by the signer (core/sign). Absent = no signing. */
  readonly sign?: SignRule;
}

/**
 * `sign: true` signs an outbound call (no token is verified). `sign: { claims_from_token: [...] }` exchanges a
 * verified token for a minted one carrying those claims.
 */
export interface SignRule {
  /** Lower-cased header the minted token is set in (`authorization` gets `Bearer `). */
  readonly header: string;
  /** null: outbound signing; a list: token exchange after verification. */
  readonly claimsFromToken: readonly string[] | null;
}

export interface RouteMatch {
  /** Exact host or `*.example.com` (any subdomain, not the apex); empty = any host. */
  readonly hosts: readonly string[];
  /** Exact paths or globs (same syntax as excludes); empty = any path. */
  readonly paths: readonly string[];
  /** Upper-case methods; empty = any method. */
  readonly methods: readonly string[];
}

export interface Route {
  readonly match: RouteMatch;
  readonly rule: Rule;
}

export interface PolicyConfig {
  readonly routes: readonly Route[];
  /** Named rules, selectable by Envoy `context_extensions: { policy: NAME }`. */
  readonly policies: ReadonlyMap<string, Rule>;
  /** Applies when no route matches. */
  readonly defaultRule: Rule;
  /** Forward the verified payload as base64url JSON in this header (like Envoy's forward_payload_header). */
  readonly payloadHeader: string | null;
  /** false: remove the token (its header and cookie) before the request reaches upstream (Envoy). */
  readonly forwardToken: boolean;
}
