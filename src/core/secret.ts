/**
 * A credential held by the frozen config (an introspection client secret or private key). It never prints:
 * `JSON.stringify`, `String()` and `util.inspect` show a short fingerprint only, which is enough for a reload to see
 * that the file changed (app.ts compares issuer configs as JSON) and useless to replay or reverse.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';

export class Secret<T extends string | KeyObject = string> {
  readonly #value: T;
  readonly #label: string;

  constructor(value: T) {
    this.#value = value;
    const bytes = typeof value === 'string' ? value : value.export({ format: 'der', type: 'pkcs8' });
    this.#label = `[secret ${createHash('sha256').update(bytes).digest('hex').slice(0, 8)}]`;
  }

  /** The credential itself: only for the request that presents it. */
  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return this.#label;
  }

  toString(): string {
    return this.#label;
  }

  [inspect.custom](): string {
    return this.#label;
  }
}
