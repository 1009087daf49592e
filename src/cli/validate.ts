/**
 * `portcullis validate --config FILE`
 *
 * Checks a config as a start would, with no network: the same loader (every key, every cross-key check, CEL
 * compiled at load, files the config names read: jwks_file, x5c roots, signer key directory, session keys), plus the
 * key sets a start would read from local sources (inline `jwks`, `jwks_file`), which a start only reports as "not
 * ready". Remote key sources (jwks_uri, discovery), the Redis replay store and the sign-in IdP are never contacted:
 * nothing here builds a core. Exit code 0 valid, 2 with every problem by path (or a usage error).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { Config } from '../core/config.ts';
import { parseKeySet } from '../core/keys/keyset.ts';

export const VALIDATE_USAGE = `usage: portcullis validate --config FILE
  Checks the config as a start would (CEL included), offline: no JWKS fetch, no discovery, no Redis.
  Inline jwks and jwks_file key sets are read and parsed too.
  --config FILE   YAML configuration (default: $PORTCULLIS_CONFIG)
Exit code: 0 valid, 2 invalid (every problem by key path) or usage error.`;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const processIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export function runValidate(argv: readonly string[], io: CliIo = processIo): number {
  let values;
  try {
    values = parseArgs({ args: [...argv], options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    io.err(`portcullis validate: ${(e as Error).message}\n${VALIDATE_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${VALIDATE_USAGE}\n`);
    return 0;
  }
  const path = values.config ?? process.env.PORTCULLIS_CONFIG;
  if (!path) {
    io.err(`portcullis validate: --config FILE is required\n${VALIDATE_USAGE}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfigFile(path);
    const problems = localKeyProblems(config);
    if (problems.length > 0) throw new ConfigError(path, problems);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`portcullis validate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const remote = config.issuers.filter((i) => i.jwksUri !== undefined || i.discoveryUrl !== undefined).length;
  io.out(`${path}: valid (${config.issuers.length} issuer${config.issuers.length === 1 ? '' : 's'}, ${config.policy.routes.length} route${config.policy.routes.length === 1 ? '' : 's'}, ${config.policy.policies.size} polic${config.policy.policies.size === 1 ? 'y' : 'ies'}${remote ? `; ${remote} remote key source${remote === 1 ? '' : 's'} not contacted` : ''})\n`);
  return 0;
}

/** Key sets a start would read from disk or the config itself: one that holds no usable key is a problem by path. */
export function localKeyProblems(config: Config): string[] {
  const problems: string[] = [];
  config.issuers.forEach((issuer, n) => {
    let doc: unknown;
    let key: string;
    if (issuer.jwks !== undefined) {
      key = 'jwks';
      doc = issuer.jwks;
    } else if (issuer.jwksFile !== undefined) {
      key = 'jwks_file';
      try {
        doc = JSON.parse(readFileSync(issuer.jwksFile, 'utf8'));
      } catch (e) {
        problems.push(`issuers[${n}].jwks_file: ${issuer.jwksFile} is not a JSON key set: ${(e as Error).message}`);
        return;
      }
    } else {
      return;
    }
    const parsed = parseKeySet(doc);
    if (!parsed.ok) problems.push(`issuers[${n}].${key}: ${parsed.error}`);
  });
  return problems;
}
