/** Where key documents come from: an HTTPS JWKS endpoint (direct or via OIDC discovery), a file (mounted secret), or inline config. */
import { readFile } from 'node:fs/promises';
import type { LoadedDocument } from './source.ts';
import { inSpan } from '../tracing.ts';

export type FetchLike = (url: string, init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'error' }) => Promise<Response>;

export interface HttpLoaderOptions {
  readonly url: string;
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Whose keys these are (the jwks_fetch span's portcullis.issuer). */
  readonly issuer?: string;
}

export function httpLoader(o: HttpLoaderOptions): () => Promise<LoadedDocument> {
  return () => fetchJson(o.url, o);
}

export interface DiscoveryLoaderOptions extends Omit<HttpLoaderOptions, 'url'> {
  /** The OpenID Provider Configuration document URL. */
  readonly discoveryUrl: string;
  /** The configured issuer: the document must name exactly this one (OIDC Discovery 4.3). */
  readonly issuer: string;
  /** Is this jwks_uri acceptable (https, or http where the config allows it)? Returns the problem or null. */
  readonly checkJwksUri: (url: string) => string | null;
}

/**
 * OIDC discovery: reads `jwks_uri` from the provider's configuration document once, then loads the JWKS from it.
 * A failed JWKS load forgets the discovered URI, so the next attempt discovers again (the IdP may have moved it).
 */
export function discoveryLoader(o: DiscoveryLoaderOptions): () => Promise<LoadedDocument> {
  let jwksUri: string | null = null;
  return async () => {
    if (jwksUri === null) {
      const meta = await discover(o);
      if (typeof meta.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
      const problem = o.checkJwksUri(meta.jwks_uri);
      if (problem) throw new Error(`discovery document jwks_uri ${JSON.stringify(meta.jwks_uri)}: ${problem}`);
      jwksUri = meta.jwks_uri;
    }
    try {
      return await fetchJson(jwksUri, o);
    } catch (e) {
      jwksUri = null;
      throw e;
    }
  };
}

/**
 * The provider's configuration document, checked to name exactly the configured issuer (OIDC Discovery 4.3). Key
 * loading reads `jwks_uri` from it; introspection reads `introspection_endpoint`.
 */
export async function discover(o: Omit<DiscoveryLoaderOptions, 'checkJwksUri'>): Promise<Readonly<Record<string, unknown>>> {
  const { doc } = await fetchJson(o.discoveryUrl, o);
  const meta = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  if (meta.issuer !== o.issuer) {
    throw new Error(`discovery document names issuer ${JSON.stringify(meta.issuer)}, expected ${JSON.stringify(o.issuer)}`);
  }
  return meta;
}

function fetchJson(url: string, o: Omit<HttpLoaderOptions, 'url'>): Promise<LoadedDocument> {
  const attributes = o.issuer === undefined ? { 'url.full': url } : { 'url.full': url, 'portcullis.issuer': o.issuer };
  return inSpan('portcullis.jwks_fetch', attributes, async (span) => {
    try {
      const doc = await fetchJsonUntraced(url, o);
      span.setAttribute('portcullis.jwks.outcome', 'ok');
      return doc;
    } catch (e) {
      span.setAttribute('portcullis.jwks.outcome', 'error');
      throw e;
    }
  });
}

async function fetchJsonUntraced(url: string, o: Omit<HttpLoaderOptions, 'url'>): Promise<LoadedDocument> {
  const signal = AbortSignal.timeout(o.timeoutMs);
  let res: Response;
  try {
    // Redirects are refused: the configured URL is the trust anchor, not wherever it points today.
    res = await o.fetch(url, { signal, headers: { accept: 'application/json' }, redirect: 'error' });
  } catch (e) {
    throw new Error(signal.aborted ? `fetch timed out after ${o.timeoutMs}ms` : `fetch failed: ${causeOf(e)}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`HTTP ${res.status} from ${url}`);
  }
  const text = await readLimited(res, o.maxBytes, signal);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`response from ${url} is not JSON (content-type ${res.headers.get('content-type') ?? 'none'})`);
  }
  const maxAgeMs = maxAge(res.headers.get('cache-control'));
  return maxAgeMs === undefined ? { doc } : { doc, maxAgeMs };
}

export function fileLoader(path: string): () => Promise<LoadedDocument> {
  return async () => {
    const text = await readFile(path, 'utf8');
    try {
      return { doc: JSON.parse(text) };
    } catch {
      throw new Error(`${path} is not JSON`);
    }
  };
}

export function inlineLoader(doc: unknown): () => Promise<LoadedDocument> {
  return async () => ({ doc });
}

async function readLimited(res: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  return (await readLimitedBytes(res, maxBytes, signal)).toString('utf8');
}

/** The body's bytes, refused past `maxBytes` (declared or received). */
export async function readLimitedBytes(res: Response, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`response of ${declared} bytes exceeds ${maxBytes}`);
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    // Leaving the loop early cancels the stream.
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) break;
      chunks.push(chunk);
    }
  } catch (e) {
    if (signal.aborted) throw new Error('fetch timed out while reading the body');
    throw e;
  }
  if (size > maxBytes) throw new Error(`response exceeds ${maxBytes} bytes`);
  return Buffer.concat(chunks);
}

function maxAge(cacheControl: string | null): number | undefined {
  const m = cacheControl?.match(/(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** Why a fetch failed, in a few words (the network error code when there is one). */
export function causeOf(e: unknown): string {
  const err = e as { cause?: { code?: string; message?: string }; message?: string };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
