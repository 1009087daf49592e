/**
 * The real service introspecting against panva's real oidc-provider (test/support/oidc-provider.ts with
 * `introspection`): the provider's issuer is the one Portcullis issuer, with discovery (keys and the
 * introspection_endpoint), `opaque_tokens` and the chosen client authentication. Real time: the provider dates its
 * tokens by its own clock.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/core/config.ts';
import type { IntrospectionEvent } from '../../src/core/introspection/client.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { OP_AUDIENCE, OP_CLIENT_ID, OP_CLIENT_SECRET, OP_JWT_CLIENT_ID, OP_POST_CLIENT_ID, startProvider, type RunningProvider } from './oidc-provider.ts';

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'signed_answers';

export interface IntrospectingOptions {
  readonly auth?: AuthMethod;
  /** Over the `introspection` section (e.g. `{ cache: { max_ttl: '1s' } }`). */
  readonly introspection?: Record<string, unknown>;
  /** Extra top-level config keys. */
  readonly config?: Record<string, unknown>;
}

export interface Introspecting {
  readonly provider: RunningProvider;
  readonly portcullis: Running;
  /** Every introspection event the service reported (calls, refused credentials). */
  readonly events: IntrospectionEvent[];
  /** The directory holding the secret and key files (a test may rewrite them before a reload). */
  readonly dir: string;
  /** The same configuration loaded again (files read again), as a reload would. */
  reloaded(): Config;
  close(): Promise<void>;
}

/** One client per way of authenticating; `signed_answers`: client_secret_basic, and the provider signs its answers. */
const CLIENTS: Readonly<Record<AuthMethod, { readonly id: string; readonly method: string }>> = {
  client_secret_basic: { id: OP_CLIENT_ID, method: 'client_secret_basic' },
  client_secret_post: { id: OP_POST_CLIENT_ID, method: 'client_secret_post' },
  private_key_jwt: { id: OP_JWT_CLIENT_ID, method: 'private_key_jwt' },
  signed_answers: { id: OP_CLIENT_ID, method: 'client_secret_basic' },
};

export async function startIntrospecting(opts: IntrospectingOptions = {}): Promise<Introspecting> {
  const { privateKey: clientKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const provider = await startProvider({ redirectUris: ['http://127.0.0.1/cb'], postLogoutRedirectUris: [], accessTokenTtlS: 300, introspection: { clientKey, signed: opts.auth === 'signed_answers' } });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-introspection-'));
  writeFileSync(join(dir, 'secret'), `${OP_CLIENT_SECRET}\n`);
  writeKey(join(dir, 'client-key.json'), clientKey);
  const client = CLIENTS[opts.auth ?? 'client_secret_basic'];
  const doc = {
    listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
    issuers: [{
      issuer: provider.issuer,
      discovery: true,
      audiences: [OP_AUDIENCE],
      introspection: {
        client_id: client.id,
        auth_method: client.method,
        ...(client.method === 'private_key_jwt' ? { private_key_file: 'client-key.json' } : { client_secret_file: 'secret' }),
        opaque_tokens: true,
        ...opts.introspection,
      },
    }],
    identity_headers: { sub: 'x-auth-subject', scope: 'x-auth-scope' },
    ...opts.config,
  };
  const load = (): Config => ({ ...buildConfig(doc, 'test/support/introspection.ts', dir), listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' } });
  const config = load();
  const events: IntrospectionEvent[] = [];
  const portcullis = await startPortcullis(config, {
    fetch: (u, i) => fetch(u, i),
    now: () => Date.now(),
    onIntrospectionEvent: (e) => events.push(e),
  });
  return {
    provider,
    portcullis,
    events,
    dir,
    reloaded: load,
    async close() {
      await portcullis.close(1000);
      await provider.close();
    },
  };
}

/** The private_key_jwt client's key as a private JWK file with the kid the provider registered. */
function writeKey(path: string, key: KeyObject): void {
  writeFileSync(path, JSON.stringify({ ...key.export({ format: 'jwk' }), kid: 'client-1' }), { mode: 0o600 });
}
