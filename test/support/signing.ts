/** Signing keys for tests: real key files in a real temp directory, written as `portcullis keys generate` does. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newKeyFile } from '../../src/core/sign/generated.ts';
import { parseKeyFile, type SigningAlgorithm, type SigningKey } from '../../src/core/sign/keyfile.ts';

export interface KeyDir {
  readonly path: string;
  /** Writes a new key file (mode 0600 unless given) and returns its kid. */
  add(opts?: { alg?: SigningAlgorithm; activateAt?: number; retireAt?: number; mode?: number }): string;
  remove(kid: string): void;
  cleanup(): void;
}

export function keyDir(): KeyDir {
  const path = mkdtempSync(join(tmpdir(), 'portcullis-keys-'));
  return {
    path,
    add({ alg = 'ES256', activateAt = 0, retireAt, mode = 0o600 } = {}) {
      const file = newKeyFile(alg, activateAt, retireAt);
      const name = join(path, `${file.kid as string}.json`);
      writeFileSync(name, JSON.stringify(file), { mode });
      chmodSync(name, mode); // exactly this mode, whatever the umask
      return file.kid as string;
    },
    remove(kid) {
      rmSync(join(path, `${kid}.json`));
    },
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** A parsed in-memory key, activating at `activateAt` (ms). */
export function signingKey(activateAt: number, retireAt?: number, alg: SigningAlgorithm = 'ES256'): SigningKey {
  const parsed = parseKeyFile(JSON.stringify(newKeyFile(alg, activateAt, retireAt)));
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.key;
}
