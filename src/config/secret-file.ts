/**
 * Reads a secret from a file named in the config (a mounted Secret), at load and again on every reload. A problem
 * names the key path and the file, never the content.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The trimmed content of `file` (relative to `baseDir`), or undefined after recording why not at `at`. */
export function readSecretFile(file: string, at: string, baseDir: string, problems: string[]): string | undefined {
  const full = resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8').trim();
  } catch (e) {
    problems.push(`${at}: cannot read ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return undefined;
  }
  if (text === '') {
    problems.push(`${at}: ${full} is empty`);
    return undefined;
  }
  return text;
}
