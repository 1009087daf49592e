/**
 * `require.when`: a CEL expression over the verified token and the request (docs/cel.md). Compiled and type-checked
 * once at config load (a problem names its line and column), evaluated per request by a pure function.
 *
 * Library: @marcbachmann/cel-js (chosen by measurement, docs/cel.md). Its `matches` uses JS RegExp, which
 * backtracks: `"^(a+)+$"` against a long header would stall the event loop. Every `matches` call is therefore
 * re-pointed at `re2Matches`, the same signature backed by re2js (RE2 semantics, linear time); the rewrite is
 * checked by a test with a catastrophic pattern, so a library update that breaks it fails loudly.
 *
 * Variables: `claims` (map, the verified payload), `issuer` (string) and `request` ({method, host, path, params,
 * headers, certificate}). `request` is built lazily: a getter runs only when the expression reads that field, so an expression
 * that reads claims only never pays for the header map.
 *
 * Both libraries load on the first `when` compiled (synchronously: Node 24 `require`s ES modules), so a config
 * without one never carries them (docs/operations.md, start-up memory).
 */
import { createRequire } from 'node:module';
import type { Environment } from '@marcbachmann/cel-js';
import type { RE2JS } from 're2js';
import { bareHost } from './routes.ts';
import { headersWithoutTokens, type TokenSources } from '../sources.ts';
import { certificateView } from '../client-certificate.ts';
import type { AuthRequest } from '../types.ts';

/** Config-time bounds: an expression is policy text, not a program; these keep its cost predictable. */
export const CEL_LIMITS = { maxLength: 2048, maxAstNodes: 256, maxDepth: 32, maxNestedComprehensions: 2 } as const;
/** A message quotes at most this much of the expression. */
const QUOTE_MAX = 200;
/** Compiled regular expressions, by pattern (patterns are usually constants of the config, so this stays small). */
const REGEX_CACHE_MAX = 256;

/** What an expression sees of the request. The getters are the laziness: nothing is derived until read. */
class CelRequest {
  readonly #request: AuthRequest;
  readonly #path: string | null;
  readonly #params: Readonly<Record<string, string>>;
  readonly #tokens: TokenSources | undefined;
  constructor(request: AuthRequest, path: string | null, params: Readonly<Record<string, string>>, tokens: TokenSources | undefined) {
    this.#request = request;
    this.#path = path;
    this.#params = params;
    this.#tokens = tokens;
  }
  get method(): string {
    return this.#request.method;
  }
  get host(): string {
    return bareHost(this.#request.host);
  }
  get path(): string {
    // An ambiguous path has no normalized form to offer: reading it is an error, never a guess.
    if (this.#path === null) throw new Error('the request path cannot be normalized unambiguously');
    return this.#path;
  }
  get params(): Map<string, string> {
    return new Map(Object.entries(this.#params));
  }
  /**
   * The client certificate (certificate-bound tokens' source: Envoy's TLS state or the proxy's header), as
   * {subject, sans, dns, uri, email, thumbprint}; an empty map when the request has none or it cannot be read, so
   * `request.certificate.uri` is then a no_such_key error (403), never a guess.
   */
  get certificate(): Map<string, unknown> {
    const view = certificateView(this.#request.clientCertificate);
    if (view === undefined) return new Map();
    const entries: [string, unknown][] = [['sans', [...view.sans]], ['dns', [...view.dns]], ['uri', [...view.uri]], ['email', [...view.email]], ['thumbprint', view.thumbprint]];
    if (view.subject !== undefined) entries.push(['subject', view.subject]);
    return new Map(entries);
  }
  get headers(): Map<string, string> {
    // Without the token sources the token's own header cannot be left out: fail closed rather than expose it.
    if (this.#tokens === undefined) throw new Error('request.headers needs the token sources');
    return headersWithoutTokens(this.#request.headers, this.#tokens);
  }
}

const load = createRequire(import.meta.url);
let re2Class: typeof RE2JS | undefined;
const re2 = (): typeof RE2JS => (re2Class ??= (load('re2js') as typeof import('re2js')).RE2JS);

const regexCache = new Map<string, RE2JS>();
function re2Matches(text: string, pattern: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    re = re2().compile(pattern);
    if (regexCache.size >= REGEX_CACHE_MAX) regexCache.delete(regexCache.keys().next().value!);
    regexCache.set(pattern, re);
  }
  return re.test(text);
}

let celEnvironment: Environment | undefined;
const environment = (): Environment => (celEnvironment ??= new (load('@marcbachmann/cel-js') as typeof import('@marcbachmann/cel-js')).Environment({
  enableOptionalTypes: true,
  limits: { maxAstNodes: CEL_LIMITS.maxAstNodes, maxDepth: CEL_LIMITS.maxDepth },
})
  .registerType('portcullis.Request', {
    ctor: CelRequest,
    fields: { method: 'string', host: 'string', path: 'string', params: 'map<string, string>', headers: 'map<string, string>', certificate: 'map<string, dyn>' },
  })
  .registerVariable('claims', 'map<string, dyn>')
  .registerVariable('issuer', 'string')
  .registerVariable('request', 'portcullis.Request')
  .registerFunction('string.re2Matches(string): bool', re2Matches));

/** What a condition is evaluated against (a subset of requirements.ts RuleContext, which satisfies it). */
export interface CelInput {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly issuer: string;
  readonly request: AuthRequest;
  readonly path: string | null;
  readonly params: Readonly<Record<string, string>>;
  /** The configured token sources, so `request.headers` can leave the token out; absent = headers unreadable. */
  readonly tokens?: TokenSources;
}

export type CelOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string; readonly error?: true };

/**
 * A compiled `when`. The program hides in a private field: the config's deep freeze must not reach the library's
 * syntax tree (it caches per-node state), and nothing outside may call it but `evaluate`.
 */
export class CelCondition {
  readonly source: string;
  readonly #program: (vars: Record<string, unknown>) => unknown;
  readonly #quoted: string;

  constructor(source: string, program: (vars: Record<string, unknown>) => unknown) {
    this.source = source;
    this.#program = program;
    this.#quoted = JSON.stringify(source.length > QUOTE_MAX ? `${source.slice(0, QUOTE_MAX)}…` : source);
  }

  /**
   * Only `true` holds. False and any other value "do not hold"; a missing key, a bad regular expression, a thrown
   * exception are errors (`error: true`, which `not` never inverts). Messages quote the expression and never a value
   * from the token or the request: for errors only the library's error code is kept.
   */
  evaluate(input: CelInput): CelOutcome {
    let value: unknown;
    try {
      value = this.#program({
        claims: input.claims,
        issuer: input.issuer,
        request: new CelRequest(input.request, input.path, input.params, input.tokens),
      });
    } catch (e) {
      return { ok: false, error: true, message: `when ${this.#quoted} could not be evaluated (${errorCode(e)})` };
    }
    if (value === true) return { ok: true };
    if (value === false) return { ok: false, message: `when ${this.#quoted} is false` };
    return { ok: false, error: true, message: `when ${this.#quoted} did not evaluate to a boolean` };
  }
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : 'evaluation_error';
}

/** `line L, column C` (1-based) of a character offset. */
function position(source: string, offset: number): string {
  const before = source.slice(0, Math.max(0, Math.min(offset, source.length)));
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - (before.lastIndexOf('\n') + 1) + 1}`;
}

interface Node {
  readonly op: string;
  readonly args: unknown;
  readonly start: number;
}
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && typeof (v as Node).op === 'string' && 'args' in v;
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** Every syntax node under `root` (each once), with its comprehension nesting depth. */
function walk(root: unknown, visit: (node: Node, nesting: number) => void): void {
  const seen = new Set<unknown>();
  const go = (v: unknown, nesting: number): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) go(x, nesting);
      return;
    }
    if (!isNode(v)) return;
    const inner = v.op === 'rcall' && COMPREHENSIONS.has((v.args as unknown[])[0] as string) ? nesting + 1 : nesting;
    visit(v, inner);
    go(v.args, inner);
  };
  go(root, 0);
}

/** A `matches` method call: [name, receiver, [pattern]]. */
const matchesCall = (n: Node): n is Node & { args: [string, Node, [Node]] } =>
  n.op === 'rcall' && Array.isArray(n.args) && n.args[0] === 'matches' && Array.isArray(n.args[2]) && n.args[2].length === 1;

/**
 * Parses, type-checks and bounds an expression: the condition, or the problem (with its line and column) that
 * stops the start. Config validation calls it; nothing compiles an expression per request.
 */
export function compileCel(source: string): CelCondition | { readonly problem: string } {
  if (source.trim() === '') return { problem: 'must not be empty' };
  if (source.length > CEL_LIMITS.maxLength) return { problem: `is longer than ${CEL_LIMITS.maxLength} characters` };
  // Checked as written, so messages name `matches`, not its replacement, at the user's own positions.
  const env = environment();
  const checked = env.check(source);
  if (!checked.valid) {
    const e = checked.error as { summary?: string; message: string; range?: { start: number } } | undefined;
    const summary = e?.summary ?? e?.message.split('\n')[0] ?? 'invalid expression';
    return { problem: `${summary}${e?.range ? ` (${position(source, e.range.start)})` : ''}` };
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') return { problem: `must be a boolean expression, but its type is ${checked.type} (${position(source, 0)})` };

  const parsed = env.parse(source);
  const problems: string[] = [];
  walk(parsed.ast, (node, nesting) => {
    if (nesting > CEL_LIMITS.maxNestedComprehensions && COMPREHENSIONS.has((node.args as unknown[])[0] as string) && node.op === 'rcall') {
      problems.push(`nests comprehensions more than ${CEL_LIMITS.maxNestedComprehensions} deep (${position(source, node.start)})`);
    }
    if (!matchesCall(node)) return;
    const pattern = node.args[2][0];
    if (pattern.op === 'value' && typeof pattern.args === 'string') {
      try {
        re2().compile(pattern.args);
      } catch (e) {
        problems.push(`invalid regular expression (RE2 syntax): ${(e as Error).message} (${position(source, pattern.start)})`);
      }
    }
    (node.args as unknown[])[0] = 're2Matches';
  });
  if (problems.length > 0) return { problem: problems[0]! };
  // Re-check the rewritten tree: this binds each call to its overload once, so evaluation does no checking.
  const rechecked = parsed.check();
  if (!rechecked.valid) return { problem: `could not be compiled: ${rechecked.error?.message.split('\n')[0]}` };
  return new CelCondition(source, parsed);
}
