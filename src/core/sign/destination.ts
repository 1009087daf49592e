/**
 * The destination of an outbound call as an origin (RFC 6454 serialization): `scheme://host[:port]`, lower-cased,
 * default ports dropped. Anything that is not a plain authority is refused, so a caller cannot make the signer
 * mint a token whose `aud` smuggles a path, credentials, a second host or control characters.
 */
import { isIPv6 } from 'node:net';

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** `null` when scheme is not http(s) or host is not host[:port] (DNS name, IPv4 or [IPv6]; port 1-65535). */
export function destinationOrigin(scheme: string, authority: string): string | null {
  const s = scheme.toLowerCase();
  if (!(s in DEFAULT_PORT)) return null;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(authority.toLowerCase());
  if (m === null) return null;
  const host = m[1]!;
  const port = m[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535 || /^0/.test(port))) return null;
  if (host.startsWith('[')) {
    if (!isIPv6(host.slice(1, -1))) return null;
  } else if (!IPV4.test(host)) {
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) return null;
    if (/^\d+$/.test(name.split('.').at(-1)!)) return null; // "1.2.3.999" is neither a name nor an address
  }
  const hostOut = host.endsWith('.') ? host.slice(0, -1) : host;
  return port === undefined || port === DEFAULT_PORT[s] ? `${s}://${hostOut}` : `${s}://${hostOut}:${port}`;
}
