/** Where key documents come from: an HTTPS JWKS endpoint, a file (mounted secret), or inline config. */
import { readFile } from 'node:fs/promises';
import type { LoadedDocument } from './source.ts';

export type FetchLike = (url: string, init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'error' }) => Promise<Response>;

export interface HttpLoaderOptions {
  readonly url: string;
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export function httpLoader(o: HttpLoaderOptions): () => Promise<LoadedDocument> {
  return async () => {
    const signal = AbortSignal.timeout(o.timeoutMs);
    let res: Response;
    try {
      // Redirects are refused: the configured URL is the trust anchor, not wherever it points today.
      res = await o.fetch(o.url, { signal, headers: { accept: 'application/json' }, redirect: 'error' });
    } catch (e) {
      throw new Error(signal.aborted ? `fetch timed out after ${o.timeoutMs}ms` : `fetch failed: ${causeOf(e)}`);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`HTTP ${res.status} from ${o.url}`);
    }
    const text = await readLimited(res, o.maxBytes, signal);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new Error(`response from ${o.url} is not JSON (content-type ${res.headers.get('content-type') ?? 'none'})`);
    }
    const maxAgeMs = maxAge(res.headers.get('cache-control'));
    return maxAgeMs === undefined ? { doc } : { doc, maxAgeMs };
  };
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
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`JWKS response of ${declared} bytes exceeds ${maxBytes}`);
  }
  if (!res.body) return '';
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
  if (size > maxBytes) throw new Error(`JWKS response exceeds ${maxBytes} bytes`);
  return Buffer.concat(chunks).toString('utf8');
}

function maxAge(cacheControl: string | null): number | undefined {
  const m = cacheControl?.match(/(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i);
  return m ? Number(m[1]) * 1000 : undefined;
}

function causeOf(e: unknown): string {
  const err = e as { cause?: { code?: string; message?: string }; message?: string };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
