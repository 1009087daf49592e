/** Request headers as the core sees them, read from node's raw header list. */
import type { IncomingMessage } from 'node:http';
import type { HeaderMap } from '../../core/types.ts';
import { RawHeaderMap, type HeaderNames } from '../raw-header-map.ts';

/**
 * The request's headers (one RawHeaderMap over node's rawHeaders; nothing is copied until a name is read). `names`:
 * the ones this endpoint reads on every request, found in one pass.
 */
export function headerMap(req: IncomingMessage, names?: HeaderNames): HeaderMap {
  return new RawHeaderMap(req.rawHeaders, names);
}

/** The value of a header sent exactly once and non-empty; `undefined` when missing, repeated or empty. */
export function single(headers: HeaderMap, name: string): string | undefined {
  const values = headers.get(name);
  if (values === undefined || values.length !== 1) return undefined;
  const value = values[0];
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** First X-Forwarded-For entry, else the peer address (logs only; never decides anything). */
export function clientAddressOf(req: IncomingMessage, headers: HeaderMap): string | undefined {
  const list = headers.get('x-forwarded-for')?.[0];
  const comma = list === undefined ? -1 : list.indexOf(',');
  const first = (comma === -1 ? list : list!.slice(0, comma))?.trim();
  return first === undefined || first === '' ? req.socket.remoteAddress : first;
}
