/**
 * The decision-table file of `portcullis test` (docs/testing-rules.md): its schema, parsed with the config's own kit,
 * so a bad test file reports every problem by path at once, like a bad config.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { anything, array, def, INVALID, integer, object, oneOf, opt, record, req, string, type Parser } from '../config/kit.ts';

/** `token:` of a case: none, a raw string sent as is, or claims the runner signs for an issuer. */
export type TokenSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'raw'; readonly value: string }
  | { readonly kind: 'claims'; readonly issuer: string | undefined; readonly claims: Readonly<Record<string, unknown>> };

const nonEmpty = string((s) => (s === '' ? 'must not be empty' : null));

const tokenSpec: Parser<TokenSpec> = (v, path, errors) => {
  if (v === undefined || v === null || v === 'none') return { kind: 'none' };
  if (typeof v === 'string') return v === '' ? (errors.push(`${path}: must not be empty (write none for no token)`), INVALID) : { kind: 'raw', value: v };
  const parsed = object({ issuer: opt(nonEmpty), claims: def(record(anything), {}) })(v, path, errors);
  return parsed === INVALID ? INVALID : { kind: 'claims', issuer: parsed.issuer, claims: parsed.claims };
};

const headerValue: Parser<string[]> = (v, path, errors) => {
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  return array(string(), { min: 1 })(v, path, errors);
};

const testCase = object({
  name: req(nonEmpty),
  request: req(object({
    method: def(string((s) => (/^[A-Za-z]+$/.test(s) ? null : `"${s}" is not an HTTP method`)), 'GET'),
    scheme: def(oneOf(['https', 'http'] as const), 'https'),
    host: def(string(), ''),
    path: req(string((s) => (s === '' ? 'must not be empty' : null))),
    headers: def(record(headerValue), {}),
  })),
  policy: opt(nonEmpty),
  token: opt(tokenSpec),
  expect: req(object({
    decision: opt(oneOf(['allow', 'deny'] as const)),
    status: opt(integer(100, 599)),
    reason: opt(nonEmpty),
    headers: opt(record(string())),
  })),
});

const testFile = object({ cases: req(array(anything, { min: 1 })) });

export type TestCase = Exclude<ReturnType<typeof testCase>, typeof INVALID>;

/**
 * The cases of one file, or its problems by path (prefixed with the file name). `identityHeaders`: every header a
 * decision of this config can set; an expectation on any other name could never fail, so it is refused.
 */
export function readTestFile(file: string, identityHeaders: ReadonlySet<string>): { cases: TestCase[] } | { problems: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { problems: [`${file}: ${code !== undefined && !code.startsWith('YAML') ? `cannot read the file: ${code}` : `not valid YAML: ${(e as Error).message.split('\n')[0]}`}`] };
  }
  const errors: string[] = [];
  const parsed = testFile(doc, '', errors);
  const cases: TestCase[] = [];
  // Case by case, so the checks below also run on the good cases of a file with bad ones.
  const raws = parsed === INVALID ? [] : parsed.cases;
  raws.forEach((raw, i) => {
    const at = `cases[${i}]`;
    const c = testCase(raw, at, errors);
    if (c === INVALID) return;
    if (Object.keys(c.expect).length === 0) errors.push(`${at}.expect: give at least one of decision, status, reason, headers`);
    for (const name of Object.keys(c.expect.headers ?? {})) {
      if (!identityHeaders.has(name.toLowerCase())) {
        errors.push(`${at}.expect.headers.${name}: not a header this config sets (known: ${[...identityHeaders].join(', ') || 'none'})`);
      }
    }
    if (raws.slice(0, i).some((o) => (o as { name?: unknown } | null)?.name === c.name)) errors.push(`${at}.name: ${JSON.stringify(c.name)} is used twice`);
    cases.push(c);
  });
  if (errors.length > 0) return { problems: errors.map((p) => `${file}: ${p}`) };
  return { cases };
}
