/**
 * Server-provided DPoP nonces (RFC 9449 §8) that every replica agrees on without sharing state: the nonce of a time
 * window is HMAC-SHA256(secret, "portcullis dpop nonce" NUL window), base64url. A replica accepts the current window's
 * nonce and the previous one's, so a nonce handed out at the end of a window still works for a full window.
 * The secret comes from `dpop.nonce_secret_file` (the same file on every replica), read by app.ts; time is injected.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class DpopNonces {
  readonly #secret: Buffer;
  readonly #windowMs: number;
  readonly #now: () => number;
  #window = Number.NaN;
  #current = '';
  #previous = '';

  constructor(secret: Buffer, windowMs: number, now: () => number) {
    this.#secret = Buffer.from(secret);
    this.#windowMs = Math.max(1000, windowMs);
    this.#now = now;
  }

  /** The nonce to hand out now. */
  current(): string {
    this.#roll();
    return this.#current;
  }

  /** True for the current window's nonce or the previous one's. */
  accepts(nonce: string): boolean {
    this.#roll();
    return same(nonce, this.#current) || same(nonce, this.#previous);
  }

  /** True when `nonce` is the previous window's: the answer should carry the current one (§8.2). */
  isPrevious(nonce: string): boolean {
    this.#roll();
    return same(nonce, this.#previous);
  }

  #roll(): void {
    const window = Math.floor(this.#now() / this.#windowMs);
    if (window === this.#window) return;
    this.#window = window;
    this.#current = this.#derive(window);
    this.#previous = this.#derive(window - 1);
  }

  #derive(window: number): string {
    return createHmac('sha256', this.#secret).update(`portcullis dpop nonce\0${window}`).digest('base64url');
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
