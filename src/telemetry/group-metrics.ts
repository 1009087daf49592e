/**
 * One metrics view for `workers: N`: merges the Prometheus text of every worker into the text of the whole process
 * group, so a scrape that lands on any worker (or on listen.admin) sees everything.
 *
 * Rule per metric family (by its `# TYPE`):
 *  - counter, histogram (every _bucket, _sum, _count), summary: summed over the workers;
 *  - portcullis_config_reloads_total: the largest worker's count (every worker counts the same group reload);
 *  - gauges: token cache entries and bytes are summed (the group's memory); per-issuer key gauges show the worst
 *    worker: portcullis_jwks_keys and portcullis_jwks_ready the minimum, portcullis_jwks_age_seconds the maximum;
 *    any other gauge the maximum;
 *  - target_info: the answering worker's (the first text).
 * A series present in only some workers is merged over those.
 */
import { METRIC_NAMES } from './metrics.ts';

type Rule = 'sum' | 'min' | 'max' | 'first';

const GAUGE_RULES: Readonly<Record<string, Rule>> = {
  [METRIC_NAMES.cacheEntries]: 'sum',
  [METRIC_NAMES.cacheBytes]: 'sum',
  [METRIC_NAMES.jwksKeys]: 'min',
  [METRIC_NAMES.jwksReady]: 'min',
  [METRIC_NAMES.jwksAge]: 'max',
  target_info: 'first',
};
const COUNTER_RULES: Readonly<Record<string, Rule>> = { [METRIC_NAMES.configReloads]: 'max' };

interface Family {
  readonly header: string[];
  rule: Rule;
  /** Series key (name + labels) → merged value, in first-seen order. */
  readonly series: Map<string, number>;
}

export function ruleFor(name: string, type: string): Rule {
  if (type === 'gauge') return GAUGE_RULES[name] ?? 'max';
  return COUNTER_RULES[name] ?? 'sum';
}

export function mergePrometheus(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  const orphan: Family = { header: [], rule: 'sum', series: new Map() };
  texts.forEach((text, worker) => {
    let family = orphan;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
        if (m === null) continue;
        const name = m[2]!;
        let f = families.get(name);
        if (f === undefined) families.set(name, (f = { header: [], rule: 'sum', series: new Map() }));
        if (!f.header.includes(line)) f.header.push(line);
        if (m[1] === 'TYPE') f.rule = ruleFor(name, (m[3] ?? '').trim());
        family = f;
        continue;
      }
      const space = line.lastIndexOf(' ');
      if (space <= 0) continue;
      const key = line.slice(0, space);
      const value = parseValue(line.slice(space + 1));
      const seen = family.series.get(key);
      if (seen === undefined) {
        if (family.rule !== 'first' || worker === 0) family.series.set(key, value);
        continue;
      }
      family.series.set(key, combine(family.rule, seen, value));
    }
  });
  const out: string[] = [];
  for (const f of [...families.values(), orphan]) {
    if (f.series.size === 0 && f.header.length === 0) continue;
    out.push(...f.header);
    for (const [key, value] of f.series) out.push(`${key} ${formatValue(value)}`);
  }
  return `${out.join('\n')}\n`;
}

function combine(rule: Rule, a: number, b: number): number {
  switch (rule) {
    case 'sum':
      return a + b;
    case 'min':
      return Math.min(a, b);
    case 'max':
      return Math.max(a, b);
    case 'first':
      return a;
  }
}

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

function formatValue(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}
