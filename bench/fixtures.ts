/**
 * What every scenario sends: one issuer with an RS256, an ES256 and an EdDSA key (inline JWKS, no network), tokens
 * signed by those keys, an Envoy-shaped CheckRequest and a Caddy-shaped forward-auth request.
 *
 * Tokens are signed with node:crypto directly (not jose) in worker threads, because signing is the slow part of a
 * run: RS256 costs ~0.3-0.4 ms per token on this machine, 1,000,000 EdDSA tokens ~25 s on two threads.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { exportJWK, type JWK } from 'jose';
import { authorizationService } from '../src/transports/grpc/protos.ts';

export const ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type Alg = (typeof ALGS)[number];

export const ISSUER = 'https://idp.bench.example/';
export const AUDIENCE = 'api.bench.example';
export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

export interface BenchKey {
  readonly alg: Alg;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
  /** PKCS#8 PEM, for the signing workers. */
  readonly privatePem: string;
}

export async function makeKeys(): Promise<Record<Alg, BenchKey>> {
  const out = {} as Record<Alg, BenchKey>;
  for (const alg of ALGS) {
    const pair =
      alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : alg === 'ES256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
    const kid = `bench-${alg.toLowerCase()}`;
    out[alg] = {
      alg,
      kid,
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      jwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' },
      privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }
  return out;
}

export const jwksOf = (keys: Record<Alg, BenchKey>): { keys: JWK[] } => ({ keys: ALGS.map((a) => keys[a].jwk) });

/**
 * The Portcullis config document (JSON is YAML, so the same text serves `bench/server.ts` and `src/main.ts --config`).
 * `extra` is merged on top (BENCH_CONFIG_JSON / --config-json): e.g. `{"cache":{"max_entries":0}}` or `{"workers":2}`.
 */
export function configDoc(keys: Record<Alg, BenchKey>, ports: { grpc: number; http: number }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    listen: { grpc: `127.0.0.1:${ports.grpc}`, http: `127.0.0.1:${ports.http}` },
    issuers: [{ issuer: ISSUER, jwks: jwksOf(keys), audiences: [AUDIENCE], algorithms: [...ALGS] }],
    workers: 1,
    // Instances are stopped with SIGTERM between scenarios: no drain wait (nothing routes to them by then).
    shutdown: { drain: '0s' },
  };
  return deepMerge(base, extra);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isPlain(cur) && isPlain(v) ? deepMerge(cur, v) : v;
  }
  return out;
}
const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------- tokens

export interface SignJob {
  readonly alg: Alg;
  readonly kid: string;
  readonly privatePem: string;
  /** Distinguishes token sets: sub and jti are `${tag}-${index}`. */
  readonly tag: string;
  readonly from: number;
  readonly count: number;
  /** Seconds since the epoch, for iat. */
  readonly nowS: number;
  readonly ttlS: number;
  readonly issuer: string;
  readonly audience: string;
}

/** Signs `count` distinct valid tokens for `key` on up to `threads` worker threads (default: every core). */
export async function signTokens(key: BenchKey, count: number, tag: string, threads = availableParallelism()): Promise<string[]> {
  if (count <= 0) return [];
  const nowS = Math.floor(Date.now() / 1000);
  const parts = Math.max(1, Math.min(threads, Math.ceil(count / 2000)));
  const per = Math.ceil(count / parts);
  const jobs: Promise<string[]>[] = [];
  for (let p = 0; p < parts; p++) {
    const from = p * per;
    const n = Math.min(per, count - from);
    if (n <= 0) break;
    jobs.push(runSignJob({ alg: key.alg, kid: key.kid, privatePem: key.privatePem, tag, from, count: n, nowS, ttlS: 4 * 3600, issuer: ISSUER, audience: AUDIENCE }));
  }
  const chunks = await Promise.all(jobs);
  const out: string[] = [];
  for (const c of chunks) for (const t of c) out.push(t);
  return out;
}

function runSignJob(job: SignJob): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sign-worker.ts', import.meta.url), { workerData: job });
    const out: string[] = [];
    worker.on('message', (m: { tokens?: string[]; done?: boolean }) => {
      if (m.tokens) for (const t of m.tokens) out.push(t);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 && out.length === job.count ? resolve(out) : reject(new Error(`sign worker exited ${code} with ${out.length}/${job.count} tokens`))));
  });
}

// ---------------------------------------------------------------- requests

/** What the proxy says the client asked for. */
export const ORIGINAL = {
  method: 'GET',
  host: 'api.example.com',
  path: '/api/v1/orders/4711?expand=items&currency=EUR',
  scheme: 'https',
  client: '203.0.113.7',
} as const;

const COMMON_HEADERS: readonly (readonly [string, string])[] = [
  ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'],
  ['accept', 'application/json, text/plain, */*'],
  ['accept-encoding', 'gzip, deflate, br'],
  ['accept-language', 'en-US,en;q=0.9,de;q=0.8'],
];

/** Forward-auth headers as Caddy's forward_auth sends them (X-Forwarded-* family), minus Host. */
export function forwardAuthHeaders(token: string): [string, string][] {
  return [
    ['x-forwarded-method', ORIGINAL.method],
    ['x-forwarded-uri', ORIGINAL.path],
    ['x-forwarded-host', ORIGINAL.host],
    ['x-forwarded-proto', ORIGINAL.scheme],
    ['x-forwarded-for', ORIGINAL.client],
    ...COMMON_HEADERS.map(([k, v]): [string, string] => [k, v]),
    ['authorization', `Bearer ${token}`],
  ];
}

/** The raw HTTP/1.1 request bytes for one forward-auth subrequest: the prefix, the token, the suffix. */
export function forwardAuthRequestParts(hostPort: string, path = '/auth'): { prefix: string; suffix: string } {
  const lines = [`GET ${path} HTTP/1.1`, `host: ${hostPort}`];
  for (const [k, v] of forwardAuthHeaders('')) if (k !== 'authorization') lines.push(`${k}: ${v}`);
  return { prefix: `${lines.join('\r\n')}\r\nauthorization: Bearer `, suffix: '\r\n\r\n' };
}

/** An Envoy-shaped CheckRequest (default header map mode, peer addresses, request id, time). */
export function checkRequest(token: string, requestId = '5f2c3a9e-3f2b-4c1a-9d1e-7a6b5c4d3e2f'): Record<string, unknown> {
  const headers: Record<string, string> = {
    ':authority': ORIGINAL.host,
    ':path': ORIGINAL.path,
    ':method': ORIGINAL.method,
    ':scheme': ORIGINAL.scheme,
    'x-forwarded-proto': ORIGINAL.scheme,
    'x-request-id': requestId,
    'x-envoy-expected-rq-timeout-ms': '15000',
    ...Object.fromEntries(COMMON_HEADERS),
    authorization: `Bearer ${token}`,
  };
  return {
    attributes: {
      source: { address: { socket_address: { address: ORIGINAL.client, port_value: 51234 } } },
      destination: { address: { socket_address: { address: '10.0.0.5', port_value: 8443 } } },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: {
          id: '14706523468765186131',
          method: ORIGINAL.method,
          headers,
          path: ORIGINAL.path,
          host: ORIGINAL.host,
          scheme: ORIGINAL.scheme,
          protocol: 'HTTP/1.1',
        },
      },
      context_extensions: { route: 'orders' },
    },
  };
}

/** gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, the protobuf bytes. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

const check = (authorizationService as Record<string, { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>)['Check']!;

/** The serialized CheckRequest (protobuf, not framed) carrying `token`. */
export const encodeCheckRequest = (token: string): Buffer => check.requestSerialize(checkRequest(token));
export const decodeCheckResponse = (bytes: Buffer): unknown => check.responseDeserialize(bytes);
