/**
 * Path patterns for `excludes` and routes' `match.paths`, compiled once at start.
 * - exact: `/healthz` matches only `/healthz`;
 * - `*` matches within one segment (never a `/`), `**` as a whole segment matches zero or more segments:
 *   `/public/**` matches `/public`, `/public/` and `/public/a/b`; `/api/*` matches `/api/x` but not `/api/x/y`.
 * - path templates, after Envoy's `uri_template` matcher: a whole segment `{name}` (or `{name=*}`) matches one
 *   non-empty segment and captures it; `{name=**}` matches zero or more segments like `**` and captures them
 *   (without the leading `/`; "" when there are none). Names follow Envoy: a letter, then letters, digits or `_`,
 *   at most 16 characters, at most 5 per pattern, each once. Nothing with a wildcard may follow a `**` in a
 *   template, so what each name captures is never a matter of how the pattern is read.
 * Patterns are matched against the output of `normalizePath`, so they are written in decoded form.
 */
export type PathMatcher = (normalizedPath: string) => boolean;
/** Values of a template's `{name}` segments for one path. */
export type PathParams = Readonly<Record<string, string>>;
/** The captured values when the path matches (NO_PARAMS for a pattern without names), or null. */
export type TemplateMatcher = (normalizedPath: string) => PathParams | null;

export const NO_PARAMS: PathParams = Object.freeze(Object.create(null) as Record<string, string>);

const VARIABLE = /^\{([^=}]*)(?:=([^}]*))?\}$/;
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const MAX_NAME = 16;
const MAX_VARIABLES = 5;

type Segment =
  | { readonly kind: 'any' } // **
  | { readonly kind: 'var'; readonly name: string; readonly many: boolean }
  | { readonly kind: 'text'; readonly text: string };

function segmentOf(seg: string): Segment {
  if (seg === '**') return { kind: 'any' };
  const v = VARIABLE.exec(seg);
  if (v !== null) return { kind: 'var', name: v[1]!, many: v[2] === '**' };
  return { kind: 'text', text: seg };
}

export function compileTemplate(pattern: string): TemplateMatcher {
  if (!/[*{]/.test(pattern)) return (p) => (p === pattern ? NO_PARAMS : null);
  const names: string[] = [];
  let re = '^';
  for (const seg of pattern.split('/').slice(1).map(segmentOf)) {
    if (seg.kind === 'any') {
      // Zero or more whole segments, including the slash that introduces them.
      re += '(?:/.*)?';
    } else if (seg.kind === 'var') {
      names.push(seg.name);
      re += seg.many ? '(?:/(.*))?' : '/([^/]+)';
    } else {
      re += '/' + seg.text.split('*').map(escapeRegExp).join('[^/]*');
    }
  }
  const compiled = new RegExp(re + '$', 's');
  if (names.length === 0) return (p) => (compiled.test(p) ? NO_PARAMS : null);
  return (p) => {
    const m = compiled.exec(p);
    if (m === null) return null;
    const params = Object.create(null) as Record<string, string>;
    for (let i = 0; i < names.length; i++) params[names[i]!] = m[i + 1] ?? '';
    return Object.freeze(params);
  };
}

export function compilePattern(pattern: string): PathMatcher {
  const match = compileTemplate(pattern);
  return (p) => match(p) !== null;
}

/** Why a pattern is unusable, or null when it is fine. Used by config validation. */
export function patternProblem(pattern: string): string | null {
  if (!pattern.startsWith('/')) return 'must start with "/"';
  if (/[?#%\\;]/.test(pattern)) return 'must be a decoded path without "?", "#", "%", "\\" or ";"';
  for (const seg of pattern.split('/')) {
    if (seg.includes('**') && seg !== '**' && !VARIABLE.test(seg)) return '"**" must be a whole segment';
    if (seg === '.' || seg === '..') return 'must not contain dot segments';
  }
  if (pattern.includes('//')) return 'must not contain "//"';
  return templateProblem(pattern);
}

/** The `{name}` rules (Envoy's uri_template): whole segments, valid unique names, nothing wild after `**`. */
function templateProblem(pattern: string): string | null {
  if (!/[{}]/.test(pattern)) return null;
  const seen = new Set<string>();
  let afterMany = false;
  let wildAfterMany = false;
  for (const raw of pattern.split('/').slice(1)) {
    const seg = segmentOf(raw);
    if (seg.kind === 'text' && /[{}]/.test(seg.text)) return `"${raw}": a {name} variable must be a whole segment ({name}, {name=*} or {name=**})`;
    if (seg.kind === 'text') {
      if (afterMany && seg.text.includes('*')) wildAfterMany = true;
      continue;
    }
    if (afterMany) wildAfterMany = true;
    if (seg.kind === 'any') {
      afterMany = true;
      continue;
    }
    const v = VARIABLE.exec(raw)!;
    if (v[2] !== undefined && v[2] !== '*' && v[2] !== '**') return `"${raw}": only {name}, {name=*} and {name=**} are supported`;
    if (!NAME.test(seg.name)) return `"${raw}": a variable name starts with a letter and holds only letters, digits and "_"`;
    if (seg.name.length > MAX_NAME) return `"${raw}": a variable name has at most ${MAX_NAME} characters`;
    if (seen.has(seg.name)) return `"${raw}": the variable "${seg.name}" is named twice`;
    seen.add(seg.name);
    if (seen.size > MAX_VARIABLES) return `at most ${MAX_VARIABLES} variables per pattern`;
    if (seg.many) afterMany = true;
  }
  if (wildAfterMany) return 'nothing with a wildcard or a variable may follow "**" in a template';
  return null;
}

export function compileExcludes(patterns: readonly string[]): PathMatcher {
  const matchers = patterns.map(compilePattern);
  return (p) => matchers.some((m) => m(p));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
