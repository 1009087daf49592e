/**
 * The signing key ring and its timeline (docs/signing.md "Rotation timeline"). Pure: keys come in through
 * `update`, time through the `now` arguments.
 *
 * For a key K with activation A, retirement R (optional), lead L (`signer.publish_lead`), tail T (ttl + max_skew):
 * - published from the moment this ring first sees K, for as long as its file is there and now < R + T;
 * - signs once now ≥ A, now < R, and this ring has published K for at least L. The newest such key signs. A key
 *   published for less than L signs only when no key has been published that long (the very first key, a restart):
 *   then the one published longest (ties: the newest activation);
 * - once its file is removed, K signs no more and stays published until max(R or removal time, last use) + T:
 *   every token it signed has expired (with the verifiers' leeway) before its public key goes.
 * A ring whose source goes bad is not updated: it keeps its last good keys and signs until their R.
 *
 * A reload that changes the signer builds a new ring after the previous one (`previous`). A key both know (same kid,
 * same material) keeps its publication start and last use, so its lead is not served twice. A key only the previous
 * ring holds (the key source changed: another directory, another algorithm) is handed over as if its file had gone
 * when the new ring first loaded: it signs no more here and stays published until its own tail ends, computed by the
 * previous ring from its own ttl + skew and its last use, which in-flight requests on the old config may still move.
 */
import type { SigningKey } from './keyfile.ts';

interface Entry {
  readonly key: SigningKey;
  /** When this ring first saw the key (its publication on this replica starts here). */
  readonly seenAt: number;
  /** When its file disappeared; undefined while present. */
  removedAt: number | undefined;
  /** Last time it signed here. */
  usedAt: number | undefined;
}

export interface KeyRingOptions {
  /** L: how long a key is published before it may sign (except when it is the only key that can). */
  readonly leadMs: number;
  /** T: how long a key stays published after it last may have signed (token ttl + verifier leeway). */
  readonly tailMs: number;
}

export interface KeyView {
  readonly kid: string;
  readonly alg: string;
  readonly state: 'pending' | 'signing' | 'standby' | 'retired' | 'removed';
  readonly activate_at: string;
  readonly retire_at: string | null;
  readonly published_until: string | null;
}

/** A key the previous ring still publishes, and until when. */
interface HandedOver {
  readonly entry: Entry;
  readonly until: number;
}

const sameKey = (a: SigningKey, b: SigningKey): boolean => JSON.stringify(a.publicJwk) === JSON.stringify(b.publicJwk);

export class KeyRing {
  readonly #opts: KeyRingOptions;
  readonly #entries = new Map<string, Entry>();
  /** The ring this one replaced at a reload, and when this one first loaded; dropped once it publishes nothing. */
  #previous: { readonly ring: KeyRing; since: number | undefined } | undefined;

  constructor(opts: KeyRingOptions, previous?: KeyRing) {
    this.#opts = opts;
    if (previous !== undefined) this.#previous = { ring: previous, since: undefined };
  }

  /** The keys the source holds now. Keys no longer listed are marked removed (and published until their tail ends). */
  update(keys: readonly SigningKey[], now: number): void {
    if (this.#previous !== undefined) this.#previous.since ??= now;
    const listed = new Set<string>();
    for (const key of keys) {
      listed.add(key.kid);
      const entry = this.#entries.get(key.kid);
      if (entry === undefined || !sameKey(entry.key, key)) {
        // New, or the same kid with other key material: a new key (published from now), unless the previous ring
        // already published this very key.
        const previous = this.#previous?.ring;
        const before = previous === undefined ? undefined : previous.#entries.get(key.kid);
        const kept = before !== undefined && sameKey(before.key, key) ? before : undefined;
        this.#entries.set(key.kid, { key, seenAt: kept?.seenAt ?? now, removedAt: undefined, usedAt: kept?.usedAt ?? entry?.usedAt });
      } else if (entry.key !== key) {
        this.#entries.set(key.kid, { ...entry, key, removedAt: undefined });
      } else {
        entry.removedAt = undefined;
      }
    }
    for (const [kid, entry] of this.#entries) {
      if (!listed.has(kid) && entry.removedAt === undefined) entry.removedAt = now;
      if (!this.#publishedAt(entry, now) && entry.removedAt !== undefined) this.#entries.delete(kid);
    }
    this.#handedOverNow(now); // forgets previous rings whose keys are all past their tail
  }

  /** The key to sign with now, or undefined (not ready for signing). Marks it used. */
  signingKey(now: number): SigningKey | undefined {
    const entry = this.#signer(now);
    if (entry !== undefined) entry.usedAt = Math.max(entry.usedAt ?? now, now);
    return entry?.key;
  }

  /** Can a token be minted now? Does not mark anything used. */
  canSign(now: number): boolean {
    return this.#signer(now) !== undefined;
  }

  /** The public JWKs to publish now, newest activation first, then the keys the previous ring handed over. */
  published(now: number): Readonly<Record<string, string>>[] {
    const own = this.#sorted().filter((e) => this.#publishedAt(e, now));
    const kids = new Set(own.map((e) => e.key.kid));
    return [...own, ...this.#inherited(now).filter((h) => !kids.has(h.entry.key.kid)).map((h) => h.entry)].map((e) => e.key.publicJwk);
  }

  /** For /keys and readiness details: no key material. */
  view(now: number): KeyView[] {
    const signer = this.#signer(now);
    const own = this.#sorted().map((e) => {
      const state = e === signer ? 'signing'
        : e.removedAt !== undefined ? 'removed'
        : now < e.key.activateAt ? 'pending'
        : e.key.retireAt !== undefined && now >= e.key.retireAt ? 'retired'
        : 'standby';
      return viewOf(e, state, this.#publishedUntil(e));
    });
    const inherited = this.#inherited(now).filter((h) => !this.#entries.has(h.entry.key.kid));
    return [...own, ...inherited.map((h) => viewOf(h.entry, 'removed', h.until))];
  }

  /** Keys the previous rings still publish, each kid once (the latest `until` when two rings hold it). */
  #inherited(now: number): HandedOver[] {
    const byKid = new Map<string, HandedOver>();
    for (const h of this.#handedOverNow(now)) {
      const seen = byKid.get(h.entry.key.kid);
      if (seen === undefined || seen.until < h.until) byKid.set(h.entry.key.kid, h);
    }
    return [...byKid.values()];
  }

  /** What the previous ring (and its own previous ones) still publish now; forgets a previous ring that is done. */
  #handedOverNow(now: number): HandedOver[] {
    const previous = this.#previous;
    if (previous === undefined || previous.since === undefined) return [];
    const handed = previous.ring.#handedOver(previous.since, now);
    if (handed.length === 0) this.#previous = undefined;
    return handed;
  }

  /** This ring's keys as if its source had gone at `since` (what a successor publishes for it), then its own previous ones. */
  #handedOver(since: number, now: number): HandedOver[] {
    const mine = [...this.#entries.values()]
      .map((entry) => ({ entry, until: this.#publishedUntil(entry, Math.min(entry.removedAt ?? since, since)) }))
      .filter((h) => now < h.until)
      .sort((a, b) => b.entry.key.activateAt - a.entry.key.activateAt);
    return [...mine, ...this.#handedOverNow(now)];
  }

  #signer(now: number): Entry | undefined {
    const usable = this.#sorted().filter((e) =>
      e.removedAt === undefined && e.key.activateAt <= now && (e.key.retireAt === undefined || now < e.key.retireAt));
    const settled = usable.find((e) => now - e.seenAt >= this.#opts.leadMs);
    if (settled !== undefined) return settled;
    // None published for a full lead yet: the one published longest is the one verifiers most likely know.
    return usable.reduce<Entry | undefined>((best, e) => (best === undefined || e.seenAt < best.seenAt ? e : best), undefined);
  }

  /** Until when `e` is published, its file removed at `removedAt` (undefined: still there). */
  #publishedUntil(e: Entry, removedAt = e.removedAt): number {
    const tail = this.#opts.tailMs;
    const used = e.usedAt ?? Number.NEGATIVE_INFINITY;
    if (removedAt === undefined) return e.key.retireAt === undefined ? Number.POSITIVE_INFINITY : Math.max(e.key.retireAt, used) + tail;
    return Math.max(Math.min(e.key.retireAt ?? removedAt, removedAt), used) + tail;
  }

  #publishedAt(e: Entry, now: number): boolean {
    return now < this.#publishedUntil(e);
  }

  /** Newest activation first; the kid breaks ties so every replica picks the same key. */
  #sorted(): Entry[] {
    return [...this.#entries.values()].sort((a, b) => b.key.activateAt - a.key.activateAt || (a.key.kid < b.key.kid ? -1 : 1));
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

function viewOf(e: Entry, state: KeyView['state'], until: number): KeyView {
  return {
    kid: e.key.kid,
    alg: e.key.alg,
    state,
    activate_at: iso(e.key.activateAt),
    retire_at: e.key.retireAt === undefined ? null : iso(e.key.retireAt),
    published_until: Number.isFinite(until) ? iso(until) : null,
  };
}
