/**
 * Shared fixtures for the HTTP transport and proxy tests: a Config, a recording stub Authorizer, a settable
 * Readiness, and a raw HTTP client that keeps header bytes and repeated headers exactly as sent/received.
 */
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Config, OriginalRequestHeaders } from '../../../src/core/config.ts';
import type { AuthRequest, Authorizer, Decision, Deny, Readiness } from '../../../src/core/types.ts';
import { Reasons } from '../../../src/core/reasons.ts';
import { denyContextOf, invalidRequestDeny } from '../../../src/core/deny.ts';

export const IDENTITY = ['x-auth-subject', 'x-auth-email'] as const;

export type HttpConfig = Pick<Config, 'forwardAuth' | 'identityHeaders' | 'realm' | 'policy'>;

/** The part of Config the HTTP transport reads. */
export function testConfig(originalRequest: OriginalRequestHeaders = 'x-forwarded'): HttpConfig {
  return {
    realm: 'portcullis',
    identityHeaders: [
      { claim: 'sub', header: 'x-auth-subject' },
      { claim: 'email', header: 'x-auth-email' },
    ],
    forwardAuth: { endpoints: [{ path: '/auth', originalRequest, redirectStatus: 302 }] },
    policy: {
      routes: [],
      policies: new Map(),
      defaultRule: { name: 'default', anonymous: 'required', login: null, identityHeaders: [] },
      payloadHeader: null,
      forwardToken: true,
    },
  };
}

export function allow(subject: string | undefined, email?: string): Decision {
  return {
    kind: 'allow',
    reason: Reasons.tokenValid,
    identity: [
      { name: 'x-auth-subject', value: subject },
      { name: 'x-auth-email', value: email },
    ],
  };
}

export function deny401(): Deny {
  return {
    kind: 'deny',
    status: 401,
    reason: Reasons.tokenMissing,
    message: 'No token.',
    headers: [['content-type', 'application/json'], ['www-authenticate', 'Bearer realm="portcullis"']],
    body: JSON.stringify({ error: 'unauthorized', reason: Reasons.tokenMissing, message: 'No token.' }),
    identity: IDENTITY.map((name) => ({ name, value: undefined })),
  };
}

/** An Authorizer that records every AuthRequest and answers with `decide`. */
export class StubAuthorizer implements Authorizer {
  readonly seen: AuthRequest[] = [];
  decide: (request: AuthRequest) => Decision | Promise<Decision>;

  constructor(decide: (request: AuthRequest) => Decision | Promise<Decision>) {
    this.decide = decide;
  }

  /** A request the adapter marked invalid is answered as the core answers it (core/deny.ts), whatever `decide` says. */
  async check(request: AuthRequest): Promise<Decision> {
    this.seen.push(request);
    if (request.invalid !== undefined) return invalidRequestDeny(request.invalid, denyContextOf(testConfig()));
    return this.decide(request);
  }
}

export const UNICODE_SUBJECT = 'Zoë Ångström ☃ 𝄞';

/**
 * The proxy-plumbing rule: `Bearer good` → allow alice; `Bearer anonymous` → allow with every identity unset;
 * `Bearer unicode` → allow UNICODE_SUBJECT; `Bearer unavailable` → 503 keys_unavailable; anything else → 401.
 */
export function plumbingAuthorizer(): StubAuthorizer {
  return new StubAuthorizer((req) => {
    const auth = req.headers.get('authorization')?.[0];
    if (auth === 'Bearer good') return allow('alice');
    if (auth === 'Bearer anonymous') return allow(undefined);
    if (auth === 'Bearer unicode') return allow(UNICODE_SUBJECT);
    if (auth === 'Bearer unavailable') {
      return { ...deny401(), status: 503, reason: Reasons.keysUnavailable, headers: [['retry-after', '5']] };
    }
    return deny401();
  });
}

export class TestReadiness implements Readiness {
  ready = false;
  isReady(): boolean {
    return this.ready;
  }
  onChange(): () => void {
    return () => {};
  }
}

export interface RawResponse {
  readonly status: number;
  /** Lower-cased name → every value received (latin1 strings: one char per byte). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly body: string;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  /** Name/value pairs sent as-is, repeats allowed. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly socketPath?: string;
  /** For an https base: the CA to trust (PEM) and, for mutual TLS, the client certificate and key (PEM). */
  readonly tls?: { readonly ca: string; readonly cert?: string; readonly key?: string; readonly servername?: string };
}

/** One HTTP/1.1 request with headers sent exactly as given (no merging, no defaults beyond Host). */
export function send(base: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const flat: string[] = [];
  for (const [name, value] of req.headers ?? []) flat.push(name, value);
  if (!(req.headers ?? []).some(([n]) => n.toLowerCase() === 'host')) flat.push('host', url.host || 'localhost');
  return new Promise((resolve, reject) => {
    const tls = url.protocol === 'https:' ? { ...req.tls } : undefined;
    const r = (tls ? httpsRequest : request)({
      ...tls,
      ...(req.socketPath ? { socketPath: req.socketPath } : { host: url.hostname, port: url.port }),
      method: req.method ?? 'GET',
      path: req.path,
      headers: flat,
      setHost: false,
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, readonly string[]> = {};
        for (const [n, v] of Object.entries(res.headersDistinct)) if (v) headers[n] = v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

/** A latin1 header string as received by node → the UTF-8 text its bytes encode. */
export function utf8(latin1: string | undefined): string | undefined {
  return latin1 === undefined ? undefined : Buffer.from(latin1, 'latin1').toString('utf8');
}
