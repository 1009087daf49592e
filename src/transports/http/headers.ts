/** Request headers as the core sees them, read once per request from node's raw header list. */
import type { IncomingMessage } from 'node:http';
import type { HeaderMap } from '../../core/types.ts';

/** Lower-cased name → every value, in arrival order, unmerged (one pass over rawHeaders; no per-header copies). */
export function headerMap(req: IncomingMessage): Map<string, string[]> {
  const raw = req.rawHeaders;
  const map = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const values = map.get(name);
    if (values === undefined) map.set(name, [raw[i + 1]!]);
    else values.push(raw[i + 1]!);
  }
  return map;
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
