/** Builds a real core (config → key sources → verifier → authorizer) for tests, with keys inline or on a real JWKS server. */
import { buildConfig } from '../../src/config/load.ts';
import { createCore, type Core } from '../../src/app.ts';
import type { Config } from '../../src/core/config.ts';
import type { AuthRequest } from '../../src/core/types.ts';
import { AUDIENCE, ISSUER, NOW_S } from './tokens.ts';

export function testConfig(overrides: Record<string, unknown> = {}, issuer: Record<string, unknown> = {}): Config {
  return buildConfig(
    {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' },
      issuers: [{ issuer: ISSUER, audiences: [AUDIENCE, 'caddy'], ...issuer }],
      identity_headers: { sub: 'x-auth-subject', email: 'x-auth-email' },
      ...overrides,
    },
    'test',
    process.cwd(),
  );
}

export const fixedNow = () => NOW_S * 1000;

export async function startCore(config: Config, now: () => number = fixedNow): Promise<Core> {
  const core = createCore(config, { fetch: (u, i) => fetch(u, i), now });
  await core.start();
  return core;
}

export function request(overrides: Partial<Omit<AuthRequest, 'headers'>> & { headers?: Record<string, string | string[]> } = {}): AuthRequest {
  const { headers = {}, ...rest } = overrides;
  return {
    transport: 'grpc',
    method: 'GET',
    host: 'api.test',
    scheme: 'https',
    path: '/orders',
    contextExtensions: new Map(),
    ...rest,
    headers: new Map(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
