/**
 * Picks the rule for a request: Envoy's `context_extensions.policy` names one directly; otherwise the first route
 * whose host, path and method all match; otherwise the default rule. Compiled once at start.
 *
 * A path that cannot be normalized unambiguously (see path.ts) never matches a path pattern. If some route
 * constrains paths, such a request is refused outright: falling through to a laxer rule is exactly how
 * `/admin%2Fusers` would dodge an `/admin/**` route that the upstream, decoding differently, would serve.
 */
import { compileTemplate, NO_PARAMS, type PathParams, type TemplateMatcher } from '../glob.ts';
import type { AuthRequest } from '../types.ts';
import type { PolicyConfig, Rule } from './types.ts';

export type Selection =
  /** `params`: the values of the matched path template's `{name}` segments (empty for any other match). */
  | { readonly kind: 'rule'; readonly rule: Rule; readonly params: PathParams }
  | { readonly kind: 'ambiguous_path' }
  | { readonly kind: 'unknown_policy'; readonly name: string };

interface CompiledRoute {
  readonly host: ((host: string) => boolean) | null;
  readonly path: TemplateMatcher | null;
  readonly methods: ReadonlySet<string> | null;
  readonly rule: Rule;
}

export function hostMatcher(patterns: readonly string[]): (host: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.startsWith('*.')).map((p) => p.toLowerCase()));
  const suffixes = patterns.filter((p) => p.startsWith('*.')).map((p) => p.slice(1).toLowerCase());
  return (host) => exact.has(host) || suffixes.some((s) => host.length > s.length && host.endsWith(s));
}

/** Lower-cased host without port (and without the brackets of an IPv6 literal's port form). */
export function bareHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export class RouteTable {
  readonly #routes: readonly CompiledRoute[];
  readonly #policies: ReadonlyMap<string, Rule>;
  readonly #default: Rule;
  readonly #pathsMatter: boolean;

  constructor(config: PolicyConfig) {
    this.#routes = config.routes.map(({ match, rule }) => {
      const paths = match.paths.map(compileTemplate);
      return {
        host: match.hosts.length ? hostMatcher(match.hosts) : null,
        path: paths.length ? firstMatch(paths) : null,
        // Backends answer HEAD with their GET handler, so a rule for GET must also hold for HEAD.
        methods: match.methods.length ? new Set(match.methods.includes('GET') ? [...match.methods, 'HEAD'] : match.methods) : null,
        rule,
      };
    });
    this.#policies = config.policies;
    this.#default = config.defaultRule;
    this.#pathsMatter = this.#routes.some((r) => r.path !== null);
  }

  select(request: AuthRequest, normalizedPath: string | null): Selection {
    const named = request.contextExtensions.get('policy');
    if (named !== undefined) {
      const rule = this.#policies.get(named);
      return rule ? { kind: 'rule', rule, params: NO_PARAMS } : { kind: 'unknown_policy', name: named };
    }
    if (this.#routes.length === 0) return { kind: 'rule', rule: this.#default, params: NO_PARAMS };
    if (normalizedPath === null && this.#pathsMatter) return { kind: 'ambiguous_path' };
    const host = bareHost(request.host);
    for (const route of this.#routes) {
      if (route.host && !route.host(host)) continue;
      if (route.methods && !route.methods.has(request.method)) continue;
      if (route.path === null) return { kind: 'rule', rule: route.rule, params: NO_PARAMS };
      const params = normalizedPath === null ? null : route.path(normalizedPath);
      if (params !== null) return { kind: 'rule', rule: route.rule, params };
    }
    return { kind: 'rule', rule: this.#default, params: NO_PARAMS };
  }
}

/** A route's paths in order: the first that matches gives the params. */
function firstMatch(paths: readonly TemplateMatcher[]): TemplateMatcher {
  if (paths.length === 1) return paths[0]!;
  return (p) => {
    for (const m of paths) {
      const params = m(p);
      if (params !== null) return params;
    }
    return null;
  };
}
