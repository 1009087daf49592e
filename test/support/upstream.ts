/**
 * A real HTTP upstream on a loopback port 0 that records every request it receives, so end-to-end tests can assert
 * what a proxy let through (and what it did not).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** Request target as received (raw). */
  readonly url: string;
  /** Lower-cased name → every value, unmerged (`headersDistinct`). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** Name/value pairs exactly as received; values are latin1-decoded bytes. */
  readonly rawHeaders: readonly string[];
}

export interface RecordingUpstream {
  /** "127.0.0.1:port" */
  readonly address: string;
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const headers: Record<string, readonly string[]> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) if (values) headers[name] = values;
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers, rawHeaders: [...req.rawHeaders] });
    req.resume();
    const body = JSON.stringify({ upstream: true });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
