/**
 * PKI.js, loaded on first use (synchronously: Node 24 `require`s ES modules): a process that configures no x5c
 * issuer never pays its import, which costs a few hundred milliseconds at every start of every worker and of
 * `portcullis explain`.
 */
import { createRequire } from 'node:module';
import type * as Pkijs from 'pkijs';

let loaded: typeof Pkijs | undefined;

export function pkijs(): typeof Pkijs {
  return (loaded ??= createRequire(import.meta.url)('pkijs') as typeof Pkijs);
}
