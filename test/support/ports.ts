/**
 * Free loopback ports for child processes that need a port number up front (caddy, nginx).
 * Our own servers listen on port 0 instead; this is only for programs we cannot ask for their bound port.
 */
import { connect, createServer } from 'node:net';

/** A port that was free a moment ago on `host` (the OS picks it; a tiny race with other processes remains). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/**
 * `count` distinct ports that were free a moment ago. All are held open until every one is assigned: asking for
 * one port after another can get the same port twice, since the OS may hand out a port again as soon as it closed.
 */
export async function freePorts(count: 1, host?: string): Promise<[number]>;
export async function freePorts(count: 2, host?: string): Promise<[number, number]>;
export async function freePorts(count: 3, host?: string): Promise<[number, number, number]>;
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(servers.map((server) => new Promise<number>((resolve, reject) => {
      server.unref();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        if (port > 0) resolve(port);
        else reject(new Error('no port assigned'));
      });
    })));
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  }
}

/** Resolves once something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => { socket.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
