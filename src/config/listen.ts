/**
 * Listen addresses, parsed in one place: the config schema validates with it, the HTTP listeners bind with it and
 * the gRPC listener reports its bound address with it. "host:port" (IPv6 in brackets, port 0 picks a free one) or
 * "unix:/path/to.sock".
 */
export type ListenTarget = { readonly path: string } | { readonly host: string; readonly port: number };

/** The target, or a sentence saying what is wrong with `address`. */
export function parseListenAddress(address: string): ListenTarget | { readonly problem: string } {
  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    return path === '' ? { problem: 'unix: needs a path' } : { path };
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) return { problem: `"${address}" must be host:port or unix:/path` };
  return { host, port };
}

/** As parseListenAddress, throwing on a bad address (for code that received an already-validated config). */
export function listenTarget(address: string): ListenTarget {
  const target = parseListenAddress(address);
  if ('problem' in target) throw new Error(`invalid listen address: ${target.problem}`);
  return target;
}
