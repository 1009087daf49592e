// dist/ is src/ compiled by tsc (tsconfig.build.json). Node runs it without type stripping, which costs ~30 MB of
// resident memory and ~200 ms of start per process (docs/operations.md). This module says, in one place, whether
// dist/ may run: it holds a stamp of the sources it was built from, and it runs only when that stamp matches the
// sources as they are now. A dist/ that is stale (src/ edited, pulled or checked out since) never runs: the caller
// falls back to src/main.ts and says why. Plain JavaScript, so that the launcher that reads it strips no types.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Written last by the build, only after tsc succeeded. */
export const STAMP = 'dist/.source-stamp';
/** What the build reads besides src/: a change to these is a change to dist/ as well. */
const INPUTS = ['tsconfig.json', 'tsconfig.build.json'];

/** A hash of every file under src/ (path and content) and of the build's config files. */
export function sourceStamp(root = REPO_ROOT) {
  const hash = createHash('sha256');
  const files = readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)).split('\\').join('/'));
  for (const file of [...files.sort(), ...INPUTS]) {
    hash.update(`${file}\0`);
    hash.update(existsSync(join(root, file)) ? readFileSync(join(root, file)) : '(absent)');
    hash.update('\0');
  }
  return `sha256:${hash.digest('hex')}`;
}

/**
 * 'fresh': dist/main.js was built from src/ as it is now. 'stale': dist/ exists but was built from other sources
 * (or the build did not finish). 'absent': never built.
 */
export function distState(root = REPO_ROOT) {
  if (!existsSync(join(root, 'dist'))) return 'absent';
  if (!existsSync(join(root, 'dist/main.js')) || !existsSync(join(root, STAMP))) return 'stale';
  return readFileSync(join(root, STAMP), 'utf8').trim() === sourceStamp(root) ? 'fresh' : 'stale';
}
