/**
 * Path patterns for `excludes` (and later, routes), compiled once at start.
 * - exact: `/healthz` matches only `/healthz`;
 * - `*` matches within one segment (never a `/`), `**` as a whole segment matches zero or more segments:
 *   `/public/**` matches `/public`, `/public/` and `/public/a/b`; `/api/*` matches `/api/x` but not `/api/x/y`.
 * Patterns are matched against the output of `normalizePath`, so they are written in decoded form.
 */
export type PathMatcher = (normalizedPath: string) => boolean;

export function compilePattern(pattern: string): PathMatcher {
  if (!pattern.includes('*')) return (p) => p === pattern;
  const segments = pattern.split('/');
  let re = '^';
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '**') {
      // Zero or more whole segments, including the slash that introduces them.
      re += '(?:/.*)?';
    } else {
      re += '/' + seg.split('*').map(escapeRegExp).join('[^/]*');
    }
  }
  const compiled = new RegExp(re + '$', 's');
  return (p) => compiled.test(p);
}

/** Why a pattern is unusable, or null when it is fine. Used by config validation. */
export function patternProblem(pattern: string): string | null {
  if (!pattern.startsWith('/')) return 'must start with "/"';
  if (/[?#%\\;]/.test(pattern)) return 'must be a decoded path without "?", "#", "%", "\\" or ";"';
  for (const seg of pattern.split('/')) {
    if (seg.includes('**') && seg !== '**') return '"**" must be a whole segment';
    if (seg === '.' || seg === '..') return 'must not contain dot segments';
  }
  if (pattern.includes('//')) return 'must not contain "//"';
  return null;
}

export function compileExcludes(patterns: readonly string[]): PathMatcher {
  const matchers = patterns.map(compilePattern);
  return (p) => matchers.some((m) => m(p));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
