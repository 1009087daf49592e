/**
 * Reads the signing keys of a directory: the files of a mounted Kubernetes Secret (`defaultMode: 0400`), or the
 * output of `portcullis keys generate`. Every `*.json` file is one key (keyfile.ts); names starting with "." are
 * skipped (the Secret's `..data` links, our own temporary files), other names are ignored.
 *
 * A file readable by group or others is refused: a signing key anyone on the host can read signs for anyone.
 * `allowGroupRead` admits group read only (kubelet adds it to Secret files when the pod sets fsGroup); write bits
 * and any bit for others are always refused.
 * The same function checks the directory at config load (a bad file stops the start, named) and on every reload
 * (a bad file keeps the last good keys; see source.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseKeyFile, type SigningKey } from './keyfile.ts';

export type KeyDirResult =
  | { readonly ok: true; readonly keys: readonly SigningKey[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Largest key file read (an RSA 4096 private JWK is ~3.3 KB). */
const MAX_FILE_BYTES = 64 * 1024;

export function readKeyDir(dir: string, opts: { allowGroupRead?: boolean } = {}): KeyDirResult {
  const forbidden = opts.allowGroupRead ? 0o037 : 0o077;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    return { ok: false, problems: [`cannot read the directory ${dir}: ${code(e)}`] };
  }
  const problems: string[] = [];
  const keys: SigningKey[] = [];
  const kids = new Map<string, string>();
  for (const name of names) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    const file = join(dir, name);
    try {
      const st = statSync(file); // follows the Secret's symlinks: the mode of the real file counts
      if (!st.isFile()) continue;
      if ((st.mode & forbidden) !== 0) {
        const who = opts.allowGroupRead ? 'others read, or group or others write' : 'group or others read';
        problems.push(`${file}: permissions ${(st.mode & 0o777).toString(8).padStart(4, '0')} let ${who} a private key (chmod 600, or defaultMode: 0400 on the Secret volume)`);
        continue;
      }
      if (st.size > MAX_FILE_BYTES) {
        problems.push(`${file}: larger than ${MAX_FILE_BYTES} bytes`);
        continue;
      }
      const parsed = parseKeyFile(readFileSync(file, 'utf8'));
      if (!parsed.ok) {
        problems.push(`${file}: ${parsed.problem}`);
        continue;
      }
      const other = kids.get(parsed.key.kid);
      if (other !== undefined) {
        problems.push(`${file}: kid ${parsed.key.kid} is also the kid of ${other}`);
        continue;
      }
      kids.set(parsed.key.kid, file);
      keys.push(parsed.key);
    } catch (e) {
      problems.push(`${file}: cannot read: ${code(e)}`);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  if (keys.length === 0) return { ok: false, problems: [`${dir}: no key files (*.json); create one with portcullis keys generate --dir ${dir}`] };
  return { ok: true, keys };
}

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? 'error';
}
