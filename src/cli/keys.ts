/**
 * `portcullis keys generate --dir DIR [--alg ES256] [--activate-in 15m] [--prune-after 24h]`
 *
 * Creates the next signing key in DIR (one `<kid>.json` file, mode 0600, written under a dot-name and renamed so
 * a polling replica never reads half a file) that activates after the lead: replicas publish it at once and sign
 * with it from `activate_at`. Run it from a CronJob every rotation period. It also removes the files of keys that
 * were superseded (a newer key activated) or retired more than --prune-after ago: by then every token they signed
 * has expired (keep --prune-after above signer.ttl + signer.max_skew). Prints what it did as one JSON line; never a
 * private key.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { duration, INVALID } from '../config/kit.ts';
import { DEFAULT_PUBLISH_LEAD } from '../config/signer-schema.ts';
import { readKeyDir } from '../core/sign/key-dir.ts';
import { newKeyFile } from '../core/sign/generated.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../core/sign/keyfile.ts';

export const KEYS_USAGE = `usage: portcullis keys generate --dir DIR [--alg ES256] [--activate-in ${DEFAULT_PUBLISH_LEAD}] [--prune-after 24h]
  Creates the next signing key in DIR (mode 0600) and removes keys superseded more than --prune-after ago.
  --dir DIR            the key directory (signer.keys.dir; created with mode 0700 if missing)
  --alg ALG            ${SIGNING_ALGORITHMS.join(' | ')} (default ES256; must match signer.algorithm)
  --activate-in D      lead before the key signs (default ${DEFAULT_PUBLISH_LEAD}, safe for verifiers that cache a JWKS
                       up to 10 minutes); 0s activates at once (the very first key, tests)
  --prune-after D      remove keys superseded or retired longer ago than this (default 24h; > signer.ttl + max_skew)
Exit code: 0 done, 2 usage error, 1 the directory could not be written or holds a bad key file.`;

export interface KeysIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now?: () => number;
}

const stdio: KeysIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export function runKeys(argv: readonly string[], io: KeysIo = stdio): number {
  const now = (io.now ?? Date.now)();
  let values;
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        alg: { type: 'string', default: 'ES256' },
        'activate-in': { type: 'string', default: DEFAULT_PUBLISH_LEAD },
        'prune-after': { type: 'string', default: '24h' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.values.help) {
      io.out(`${KEYS_USAGE}\n`);
      return 0;
    }
    if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'generate') throw new Error('expected the command "generate"');
    values = parsed.values;
  } catch (e) {
    io.err(`portcullis keys: ${(e as Error).message}\n${KEYS_USAGE}\n`);
    return 2;
  }
  const problems: string[] = [];
  const lead = duration(0)(values['activate-in'], '--activate-in', problems);
  const prune = duration(0)(values['prune-after'], '--prune-after', problems);
  if (values.dir === undefined || values.dir === '') problems.push('--dir: required');
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(values.alg)) problems.push(`--alg: must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  if (problems.length > 0 || lead === INVALID || prune === INVALID) {
    io.err(`portcullis keys: ${problems.join('; ')}\n${KEYS_USAGE}\n`);
    return 2;
  }
  const dir = values.dir!;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const existing = hasKeyFiles(dir) ? readKeyDir(dir) : { ok: true as const, keys: [] };
    if (!existing.ok) {
      io.err(`portcullis keys: the directory holds bad key files, nothing changed:\n${existing.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return 1;
    }
    const file = newKeyFile(values.alg as SigningAlgorithm, now + lead, undefined);
    const kid = file.kid as string;
    const tmp = join(dir, `.${kid}.json.tmp`);
    writeFileSync(tmp, `${JSON.stringify(file)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, join(dir, `${kid}.json`));

    // Superseded at the activation of the next newer key that has activated by now.
    const pruned: string[] = [];
    const byActivation = [...existing.keys].sort((a, b) => a.activateAt - b.activateAt);
    byActivation.forEach((key, i) => {
      const next = byActivation.slice(i + 1).find((k) => k.activateAt <= now);
      const endedAt = Math.min(key.retireAt ?? Infinity, next?.activateAt ?? Infinity);
      if (endedAt + prune <= now) {
        rmSync(join(dir, `${key.kid}.json`), { force: true });
        pruned.push(key.kid);
      }
    });
    io.out(`${JSON.stringify({ created: kid, alg: values.alg, activate_at: new Date(now + lead).toISOString(), dir, pruned })}\n`);
    return 0;
  } catch (e) {
    io.err(`portcullis keys: cannot write to ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
}

function hasKeyFiles(dir: string): boolean {
  return readdirSync(dir).some((n) => !n.startsWith('.') && n.endsWith('.json'));
}
