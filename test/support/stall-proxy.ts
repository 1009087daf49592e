/**
 * A real loopback TCP proxy that can go silent without closing anything, as a sidecar or load balancer whose far side
 * vanished does: the kernel still accepts (acknowledges) the bytes, and nothing comes back.
 *
 * - stall(): the connections open now stop passing bytes both ways (what arrives is dropped); new ones still work.
 * - stall({ newConnections: true }): every connection, now and later, is silent (accepted, then nothing).
 * - stallAfter(ms): each connection (open now, or opened later) passes bytes for `ms`, then goes silent: a Redis that
 *   answers some commands and then stops, on every connection the client opens.
 * - resume(): new connections work again (the silent ones stay silent: nothing revives a dead path).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface StallProxy {
  readonly port: number;
  /** Connections accepted since the start. */
  readonly opened: number;
  stall(opts?: { newConnections?: boolean }): void;
  stallAfter(ms: number): void;
  resume(): void;
  close(): Promise<void>;
}

interface Pair {
  silent: boolean;
  readonly timers: NodeJS.Timeout[];
  readonly sockets: readonly [Socket, Socket];
}

export async function startStallProxy(target: { port: number; host?: string }): Promise<StallProxy> {
  const pairs = new Set<Pair>();
  let opened = 0;
  let silentNew = false;
  let stallAfterMs: number | undefined;

  const silenceLater = (pair: Pair, ms: number) => {
    const t = setTimeout(() => (pair.silent = true), ms);
    t.unref();
    pair.timers.push(t);
  };

  const server: Server = createServer((client) => {
    opened++;
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    const pair: Pair = { silent: silentNew, timers: [], sockets: [client, upstream] };
    pairs.add(pair);
    if (stallAfterMs !== undefined) silenceLater(pair, stallAfterMs);
    // Bytes written before the upstream connected are buffered by net.Socket itself.
    client.on('data', (d) => pair.silent || upstream.write(d));
    upstream.on('data', (d) => pair.silent || client.write(d));
    const end = () => {
      for (const t of pair.timers) clearTimeout(t);
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A silent path does not pass a close either: the client must find out by itself.
    client.on('close', end).on('error', end);
    upstream.on('close', () => pair.silent || end()).on('error', () => pair.silent || end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    port,
    get opened() {
      return opened;
    },
    stall(opts = {}) {
      for (const pair of pairs) pair.silent = true;
      if (opts.newConnections) silentNew = true;
    },
    stallAfter(ms) {
      stallAfterMs = ms;
      for (const pair of pairs) silenceLater(pair, ms);
    },
    resume() {
      silentNew = false;
      stallAfterMs = undefined;
    },
    async close() {
      for (const pair of pairs) {
        for (const t of pair.timers) clearTimeout(t);
        for (const s of pair.sockets) s.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
