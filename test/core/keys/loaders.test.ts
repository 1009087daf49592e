import { afterEach, describe, expect, it } from 'vitest';
import { discoveryLoader } from '../../../src/core/keys/loaders.ts';
import { insecureUrlProblem } from '../../../src/config/schema.ts';
import { startJwksServer, type JwksServer } from '../../support/jwks-server.ts';
import { jwksOf, makeKey } from '../../support/tokens.ts';

const WELL_KNOWN = '/.well-known/openid-configuration';
let server: JwksServer;
afterEach(() => server.close());

async function setup(meta: (origin: string) => Record<string, unknown>) {
  const key = await makeKey('ES256', 'k1');
  server = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
  const issuer = `${server.origin}/`;
  server.paths.set(WELL_KNOWN, { kind: 'serve', body: meta(server.origin) });
  const load = discoveryLoader({
    discoveryUrl: `${server.origin}${WELL_KNOWN}`,
    issuer,
    fetch: (u, i) => fetch(u, i),
    timeoutMs: 2000,
    maxBytes: 65536,
    checkJwksUri: (u) => insecureUrlProblem(u, false),
  });
  return { load, key };
}

describe('discoveryLoader', () => {
  it('reads jwks_uri from the discovery document once and loads the keys from it', async () => {
    const { load } = await setup((o) => ({ issuer: `${o}/`, jwks_uri: `${o}/jwks.json` }));
    expect(((await load()).doc as { keys: unknown[] }).keys).toHaveLength(1);
    await load();
    expect(server.hits.get(WELL_KNOWN)).toBe(1);
    expect(server.fetches).toBe(2);
  });

  it.each([
    ['names another issuer', (o: string) => ({ issuer: 'https://evil.test/', jwks_uri: `${o}/jwks.json` }), 'discovery document names issuer "https://evil.test/"'],
    ['has no jwks_uri', (o: string) => ({ issuer: `${o}/` }), 'has no jwks_uri'],
    ['points at plain http elsewhere', (o: string) => ({ issuer: `${o}/`, jwks_uri: 'http://keys.evil.test/jwks' }), 'plain http'],
  ])('refuses a document that %s', async (_name, meta, error) => {
    const { load } = await setup(meta);
    await expect(load()).rejects.toThrow(error);
    expect(server.fetches).toBe(0);
  });

  it('discovers again after the JWKS endpoint fails', async () => {
    const { load } = await setup((o) => ({ issuer: `${o}/`, jwks_uri: `${o}/jwks.json` }));
    await load();
    server.behaviour = { kind: 'status', status: 404 };
    await expect(load()).rejects.toThrow('HTTP 404');
    server.behaviour = { kind: 'serve', body: { keys: [] } };
    await load();
    expect(server.hits.get(WELL_KNOWN)).toBe(2);
  });
});
