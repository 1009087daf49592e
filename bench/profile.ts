/** Reads a V8 .cpuprofile (from `--cpu-prof`) and lists where self time went, by function and by file. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idlePct: number;
  readonly topFunctions: readonly { readonly name: string; readonly pct: number }[];
  readonly topFiles: readonly { readonly file: string; readonly pct: number }[];
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length).replace(/^(@[^/]+\/[^/]+|[^/]+)\/.*$/, '$1');
  const src = url.search(/\/(src|bench)\//);
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^node:/, 'node:');
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = p.samples.length || 1;
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  for (const [id, c] of counts) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += c;
      continue;
    }
    const f = shortUrl(url);
    const name = `${functionName || '(anonymous)'} ${f}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + c);
    files.set(f, (files.get(f) ?? 0) + c);
  }
  const busy = total - idle || 1;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: (p.endTime - p.startTime) / 1000,
    idlePct: (idle / total) * 100,
    topFunctions: sorted(fn).map(([name, c]) => ({ name, pct: (c / busy) * 100 })),
    topFiles: sorted(files).map(([file, c]) => ({ file, pct: (c / busy) * 100 })),
  };
}
