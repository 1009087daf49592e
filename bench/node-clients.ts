/**
 * Load generators in this process, on Node: `rawHttp` is a minimal HTTP/1.1 keep-alive client on node:net (no parser
 * objects, no agent; a few µs per request) for runs that must send each token exactly once (the RSS flood) and as
 * wrk's stand-in; `rawGrpc` (node:http2, one prebuilt frame) stands in for h2load where it cannot be installed.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as h2connect, constants as h2c } from 'node:http2';
import { latencyOf } from './stats.ts';
import type { RunResult } from './loadgen.ts';

// ---------------------------------------------------------------- raw HTTP/1.1 client (node:net)

export interface RawHttpOptions {
  readonly port: number;
  readonly prefix: string;
  readonly suffix: string;
  readonly connections: number;
  /** The next token to send, or undefined when there is none left. */
  readonly next: () => string | undefined;
  /** Stop sending at this performance.now() time (duration mode). */
  readonly deadline?: number;
  readonly expectStatus?: number;
  /** Called after every completed request (e.g. to sample memory); keep it cheap. */
  readonly onProgress?: (done: number) => void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('\r\n0\r\n\r\n');

/** Closed loop: each connection sends its next request when the previous answer has arrived. */
export function rawHttp(o: RawHttpOptions): Promise<RunResult> {
  const expect = o.expectStatus ?? 200;
  return new Promise((resolve) => {
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let done = 0;
    let errors = 0;
    let open = 0;
    const start = performance.now();
    let last = start;
    const finish = (): void => {
      if (--open > 0) return;
      const seconds = (last - start) / 1000;
      resolve({
        tool: 'node:net client',
        requests: done,
        errors,
        seconds,
        rps: done / seconds,
        latency: latencyOf(Float64Array.from(latencies)),
        statuses,
      });
    };
    for (let c = 0; c < o.connections; c++) {
      open++;
      const socket: Socket = netConnect({ port: o.port, host: '127.0.0.1', noDelay: true });
      let buf: Buffer | null = null;
      let sentAt = 0;
      let inFlight = false;
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        socket.destroy();
        finish();
      };
      const send = (): void => {
        const token = o.deadline !== undefined && performance.now() >= o.deadline ? undefined : o.next();
        if (token === undefined) return close();
        inFlight = true;
        sentAt = performance.now();
        socket.write(o.prefix + token + o.suffix, 'latin1');
      };
      socket.once('connect', send);
      socket.on('data', (chunk: Buffer) => {
        buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          const he: number = buf.indexOf(CRLFCRLF);
          if (he < 0) return;
          const head = buf.toString('latin1', 0, he);
          let end: number;
          const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
          if (cl) end = he + 4 + Number(cl[1]);
          else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
            const z = buf.indexOf(LAST_CHUNK, he + 2);
            if (z < 0) return;
            end = z + LAST_CHUNK.length;
          } else end = he + 4;
          if (buf.length < end) return;
          const status = Number(head.slice(9, 12));
          const now = performance.now();
          latencies.push((now - sentAt) * 1000);
          last = now;
          done++;
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status !== expect) errors++;
          inFlight = false;
          buf = end < buf.length ? buf.subarray(end) : null;
          o.onProgress?.(done);
          if (buf !== null) continue;
          send();
          return;
        }
      });
      socket.on('error', () => {
        if (inFlight) errors++;
        close();
      });
      socket.on('close', close);
    }
  });
}

// ---------------------------------------------------------------- raw gRPC client (node:http2), h2load's stand-in

export interface RawGrpcOptions {
  readonly port: number;
  readonly path: string;
  /** The framed request message. */
  readonly body: Buffer;
  readonly concurrency: number;
  readonly durationS: number;
}

export function rawGrpc(o: RawGrpcOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const session = h2connect(`http://127.0.0.1:${o.port}`);
    const latencies: number[] = [];
    let done = 0;
    let errors = 0;
    let active = 0;
    const start = performance.now();
    const deadline = start + o.durationS * 1000;
    const one = (): void => {
      if (performance.now() >= deadline) {
        if (active === 0) {
          session.close();
          const seconds = (performance.now() - start) / 1000;
          resolve({ tool: 'node:http2 client', requests: done, errors, seconds, rps: done / seconds, latency: latencyOf(Float64Array.from(latencies)) });
        }
        return;
      }
      active++;
      const t0 = performance.now();
      const req = session.request({
        [h2c.HTTP2_HEADER_METHOD]: 'POST',
        [h2c.HTTP2_HEADER_PATH]: o.path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let grpcStatus = '';
      req.on('trailers', (t) => (grpcStatus = String(t['grpc-status'] ?? '')));
      req.on('data', () => {});
      req.on('close', () => {
        active--;
        done++;
        if (grpcStatus !== '0') errors++;
        latencies.push((performance.now() - t0) * 1000);
        one();
      });
      req.on('error', () => {});
      req.end(o.body);
    };
    session.once('connect', () => {
      for (let i = 0; i < o.concurrency; i++) one();
    });
    session.on('error', () => {});
  });
}
