/**
 * `upstream.forward_token: false` through the real transports: for every shape in which the finder accepts a token
 * (test/support/token-shapes.ts) the answer's header operations, applied as Envoy applies them, leave no token for
 * the upstream — over gRPC (ok_response headers / headers_to_remove) and Envoy HTTP mode (answered headers and
 * x-envoy-auth-headers-to-remove).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { signToken } from '../support/tokens.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { cookieShapes } from '../support/token-shapes.ts';
import { send } from '../transports/http/fixtures.ts';

let p: TestPortcullis;
let grpc: EnvoyClient;
let token: string;
beforeAll(async () => {
  p = await startTestPortcullis({ config: { upstream: { forward_token: false }, envoy_http: { path_prefix: '/envoy' } } });
  grpc = connectEnvoyClient(p.grpcAddress);
  token = await signToken(p.key);
});
afterAll(async () => {
  grpc.close();
  await p.close();
});

type Headers = Map<string, string[]>;
const asMap = (h: Record<string, string | string[]>): Headers => new Map(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

/** The upstream request after Envoy applied an allow's header operations. */
function apply(request: Headers, set: readonly [string, string][], remove: readonly string[]): Headers {
  const upstream = new Map(request);
  for (const [name, value] of set) upstream.set(name, [value]);
  for (const name of remove) upstream.delete(name);
  return upstream;
}

const shapes = () => [...cookieShapes(token), ['a Bearer header', { authorization: `Bearer ${token}` }] as [string, Record<string, string | string[]>]];
const tokenParts = () => token.split('.').filter((part) => part.length > 8);

describe('forward_token: false leaves no token for the upstream', () => {
  it('checks every shape', async () => {
    expect(shapes().length).toBeGreaterThan(10);
    for (const [name, headers] of shapes()) {
      // gRPC: Envoy's headers map comma-joins repeated headers; cookies are joined with "; ".
      const grpcHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(k === 'cookie' ? '; ' : ', ') : v]));
      const response = await grpc.check({ attributes: { request: { http: { method: 'GET', path: '/x', headers: grpcHeaders } } } });
      expect(response.status.code, `gRPC: ${name}`).toBe(0);
      const set = response.ok_response.headers.map((h: any) => [h.header.key, h.header.value] as [string, string]);
      const upstream = apply(asMap(grpcHeaders), set, response.ok_response.headers_to_remove);
      for (const part of tokenParts()) expect(JSON.stringify([...upstream]), `gRPC: ${name}`).not.toContain(part);

      // Envoy HTTP mode: repeated headers arrive comma-merged too.
      const flat = Object.entries(grpcHeaders).map(([k, v]) => [k, v] as [string, string]);
      const res = await send(p.httpUrl, { path: '/envoy/x', headers: flat });
      expect(res.status, `Envoy HTTP: ${name}`).toBe(200);
      const answered = Object.entries(res.headers).filter(([k]) => k === 'cookie').map(([k, v]) => [k, v[0]!] as [string, string]);
      const removed = (res.headers['x-envoy-auth-headers-to-remove']?.[0] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const upstreamHttp = apply(asMap(grpcHeaders), answered, removed);
      for (const part of tokenParts()) expect(JSON.stringify([...upstreamHttp]), `Envoy HTTP: ${name}`).not.toContain(part);
    }
  });
});
