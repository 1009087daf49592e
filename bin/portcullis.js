#!/usr/bin/env node
// The launcher: `npm start` and `npx portcullis …` (package.json "bin" cannot be a .ts file). It runs dist/main.js
// (src/ compiled by `npm run build`; no type stripping: ~30 MB less per process, faster start) when dist/ was built
// from src/ as it is now, and src/main.ts otherwise: on a fresh clone with no build, or (with a warning) when dist/
// is stale. scripts/dist.js holds the rule. The container runs dist/main.js directly (Dockerfile).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`portcullis needs Node 24 or newer (this is ${process.version})\n`);
  process.exit(1);
}
const { default: cluster } = await import('node:cluster');
const { fileURLToPath } = await import('node:url');
const { distState } = await import('../scripts/dist.js');
const state = distState();
if (state === 'stale') process.stderr.write('portcullis: dist/ was built from other sources than src/ holds now: running src/main.ts (npm run build to rebuild)\n');
const entry = new URL(state === 'fresh' ? '../dist/main.js' : '../src/main.ts', import.meta.url);
// `workers: N` forks run the entry chosen here, not this launcher: one decision for the whole group.
if (cluster.isPrimary) cluster.setupPrimary({ exec: fileURLToPath(entry) });
await import(entry.href);
