/** Config test helper: the problems buildConfig reports for a document, [] when it is valid. */
import { buildConfig, ConfigError } from '../../src/config/load.ts';

export function configProblems(doc: unknown, baseDir = process.cwd(), source = 'test'): readonly string[] {
  try {
    buildConfig(doc, source, baseDir);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}
