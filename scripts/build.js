// `npm run build`: src/ → dist/ with tsc (tsconfig.build.json), then the stamp that lets dist/ run (scripts/dist.js).
// The image's build stage runs it. `--when-stale` (npm's prestart) builds only when dist/ is not fresh, and never
// fails the start: without TypeScript (a production install) or on a failed build it says so, and the launcher
// runs src/main.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { distState, REPO_ROOT, sourceStamp, STAMP } from './dist.js';

const whenStale = process.argv.includes('--when-stale');

function tscPath() {
  try {
    return join(dirname(createRequire(join(REPO_ROOT, 'package.json')).resolve('typescript/package.json')), 'bin/tsc');
  } catch {
    return undefined;
  }
}

function build() {
  if (whenStale && distState() === 'fresh') return 0;
  const tsc = tscPath();
  if (tsc === undefined) {
    process.stderr.write('portcullis build: TypeScript is not installed (production install); src/main.ts will run\n');
    return whenStale ? 0 : 1;
  }
  const before = sourceStamp();
  // A clean dist/: a file removed from src/ must not linger there. The stamp goes first, so a build that stops
  // half way leaves a dist/ that never runs.
  rmSync(join(REPO_ROOT, 'dist'), { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(join(REPO_ROOT, 'dist/main.js'))) {
    process.stderr.write(`portcullis build: tsc failed (exit ${r.status}); dist/ will not run\n`);
    return whenStale ? 0 : 1;
  }
  // Sources edited while tsc ran: this dist/ may hold either version, so it gets no stamp.
  if (sourceStamp() !== before) {
    process.stderr.write('portcullis build: src/ changed during the build; dist/ will not run until the next build\n');
    return whenStale ? 0 : 1;
  }
  writeFileSync(join(REPO_ROOT, STAMP), `${before}\n`);
  return 0;
}

process.exitCode = build();
