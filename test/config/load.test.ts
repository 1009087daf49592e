import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, loadConfigFile } from '../../src/config/load.ts';
import { configProblems } from '../support/config.ts';

const minimal = { issuers: [{ issuer: 'https://idp.example.com/', jwks_uri: 'https://idp.example.com/jwks.json', audiences: ['api'] }] };

const problems = (doc: unknown): readonly string[] => configProblems(doc);

describe('config defaults', () => {
  it('fills every default from the one schema', () => {
    const c = buildConfig(minimal, 'test', process.cwd());
    expect(c).toMatchObject({
      listen: { grpc: '127.0.0.1:9001', http: '127.0.0.1:9002' },
      realm: 'portcullis',
      tokens: { headers: [{ name: 'authorization', prefix: 'Bearer ' }], cookies: ['access_token'], maxBytes: 16384 },
      skipPreflight: true,
      excludes: [],
      identityHeaders: [{ claim: 'sub', header: 'x-auth-subject' }],
      identityHeaderMaxBytes: 4096,
      forwardAuth: { endpoints: [{ path: '/auth', originalRequest: 'x-forwarded', redirectStatus: 302 }] },
      grpc: { maxRequestBytes: 4_194_304 },
      jwks: { refreshIntervalMs: 300_000, minRefreshMs: 30_000, cooldownMs: 30_000, timeoutMs: 5000, maxStaleMs: 86_400_000, maxBytes: 1_048_576 },
      demo: false,
    });
    expect(c.issuers[0]).toMatchObject({ leewayMs: 60_000, requiredClaims: [], algorithms: expect.arrayContaining(['RS256', 'ES256', 'EdDSA']) });
    expect(c.issuers[0]!.algorithms.some((a) => a.startsWith('HS'))).toBe(false);
    expect(c.issuers[0]!.maxTtlMs).toBeUndefined();
  });

  it.each(['listen', 'tokens', 'upstream', 'forward_auth', 'cache', 'telemetry', 'jwks', 'grpc'])(
    'gives the same config for an absent, an empty (null) and an empty-mapping %s section',
    (section) => {
      const absent = buildConfig(minimal, 'test', process.cwd());
      expect(buildConfig({ ...minimal, [section]: null }, 'test', process.cwd())).toEqual(absent);
      expect(buildConfig({ ...minimal, [section]: {} }, 'test', process.cwd())).toEqual(absent);
    },
  );

  it('gives an empty route match the same defaults as an absent one', () => {
    const route = (match?: unknown) => buildConfig({ ...minimal, routes: [{ name: 'r', ...(match === undefined ? {} : { match }) }] }, 'test', process.cwd()).policy.routes[0]!.match;
    expect(route({})).toEqual(route());
    expect(route(null)).toEqual({ hosts: [], paths: [], methods: [] });
  });

  it('is frozen all the way down', () => {
    const c = buildConfig(minimal, 'test', process.cwd());
    expect(Object.isFrozen(c) && Object.isFrozen(c.issuers) && Object.isFrozen(c.issuers[0]!.audiences)).toBe(true);
  });

  it('parses the documented example', () => {
    const c = buildConfig({
      listen: { grpc: '127.0.0.1:9001', http: '127.0.0.1:9002' },
      issuers: [{ ...minimal.issuers[0], audiences: ['api.example.com', 'caddy'], algorithms: ['RS256', 'ES256'], leeway: '60s', max_ttl: '1h', required_claims: ['sub'] }],
      tokens: { headers: [{ name: 'authorization', prefix: 'Bearer ' }], cookies: ['access_token'] },
      skip_preflight: true,
      excludes: ['/healthz', '/public/**'],
      identity_headers: { sub: 'x-auth-subject', email: 'x-auth-email' },
    }, 'test', process.cwd());
    expect(c.issuers[0]).toMatchObject({ maxTtlMs: 3_600_000, algorithms: ['RS256', 'ES256'] });
  });
});

describe('forward_auth endpoints', () => {
  it('serves one endpoint per header family', () => {
    const c = buildConfig({ ...minimal, forward_auth: { endpoints: [{ path: '/auth' }, { path: '/auth/nginx', original_request: 'x-original', redirect_status: 401 }] } }, 'test', process.cwd());
    expect(c.forwardAuth.endpoints).toEqual([
      { path: '/auth', originalRequest: 'x-forwarded', redirectStatus: 302 },
      { path: '/auth/nginx', originalRequest: 'x-original', redirectStatus: 401 },
    ]);
  });

  it.each([
    ['both endpoints and the single-endpoint keys', { endpoints: [{ path: '/a' }], path: '/b' }, 'forward_auth: give either endpoints or path, not both'],
    ['a path served twice', { endpoints: [{ path: '/a' }, { path: '/a', original_request: 'x-original' }] }, 'forward_auth.endpoints[1].path: /a is served twice'],
    ['a reserved path', { endpoints: [{ path: '/readyz' }] }, 'forward_auth.endpoints[0].path: /readyz is reserved'],
    ['an empty list', { endpoints: [] }, 'forward_auth.endpoints: must not be empty'],
    ['an endpoint without a path', { endpoints: [{ original_request: 'x-original' }] }, 'forward_auth.endpoints[0].path: required'],
  ])('refuses %s', (_name, forwardAuth, problem) => {
    expect(problems({ ...minimal, forward_auth: forwardAuth })).toContain(problem);
  });
});

describe('config errors', () => {
  it('reports every problem at once, each with its path', () => {
    expect(problems({ issuers: [{ issuer: 'x', jwks_uri: 'not a url' }], listen: { grpc: 'nope' }, colour: 'blue' })).toEqual([
      'colour: unknown key (known: listen, realm, issuers, signer, tokens, skip_preflight, excludes, identity_headers, identity_header_max_bytes, routes, policies, login, upstream, forward_auth, envoy_http, cache, telemetry, workers, jwks, grpc, replay, dpop, shutdown, client_certificate)',
      'listen.grpc: "nope" must be host:port or unix:/path',
      'issuers[0].jwks_uri: "not a url" is not a valid URL',
      'issuers[0].audiences: required',
    ]);
  });

  it.each([
    ['no issuers', {}, 'issuers: required'],
    ['an empty issuer list', { issuers: [] }, 'issuers: must not be empty'],
    ['no key source', { issuers: [{ issuer: 'i', audiences: ['a'] }] }, 'issuers[0]: needs exactly one of jwks_uri, jwks_file, jwks, discovery, openid_configuration, x5c (got none)'],
    ['two key sources', { issuers: [{ ...minimal.issuers[0], jwks_file: 'x.json' }] }, 'needs exactly one of jwks_uri, jwks_file, jwks, discovery, openid_configuration, x5c (got jwks_uri, jwks_file)'],
    ['an unreadable jwks_file', { issuers: [{ issuer: 'i', audiences: ['a'], jwks_file: '/nonexistent/jwks.json' }] }, 'issuers[0].jwks_file: cannot read /nonexistent/jwks.json: ENOENT'],
    ['an empty audience list', { issuers: [{ ...minimal.issuers[0], audiences: [] }] }, 'issuers[0].audiences: must not be empty'],
    ['HS256', { issuers: [{ ...minimal.issuers[0], algorithms: ['HS256'] }] }, 'issuers[0].algorithms[0]: must be one of RS256'],
    ['none', { issuers: [{ ...minimal.issuers[0], algorithms: ['none'] }] }, 'issuers[0].algorithms[0]: must be one of'],
    ['a bare-number duration', { issuers: [{ ...minimal.issuers[0], leeway: 60 }] }, 'issuers[0].leeway: must be a duration like "30s", "5m" or "1h", got 60'],
    ['a bad duration unit', { issuers: [{ ...minimal.issuers[0], max_ttl: '1d' }] }, 'issuers[0].max_ttl: must be a duration'],
    ['plain http to a remote JWKS', { issuers: [{ ...minimal.issuers[0], jwks_uri: 'http://idp.example.com/jwks' }] }, 'issuers[0].jwks_uri: plain http lets anyone on the path replace the keys'],
    ['credentials in the JWKS URL', { issuers: [{ ...minimal.issuers[0], jwks_uri: 'https://u:p@idp.example.com/jwks' }] }, 'must not contain credentials'],
    ['a duplicate issuer', { issuers: [minimal.issuers[0], minimal.issuers[0]] }, 'issuers[1].issuer: "https://idp.example.com/" is configured twice'],
    ['identity onto authorization', { ...minimal, identity_headers: { sub: 'Authorization' } }, 'identity_headers.sub: "Authorization" may not carry a claim'],
    ['identity onto host', { ...minimal, identity_headers: { sub: 'host' } }, 'identity_headers.sub: "host" may not carry a claim'],
    ['identity onto cookie', { ...minimal, identity_headers: { sub: 'cookie' } }, 'identity_headers.sub: "cookie" may not carry a claim'],
    ['identity onto a hop-by-hop header', { ...minimal, identity_headers: { sub: 'transfer-encoding' } }, 'may not carry a claim'],
    ['identity onto a pseudo-header', { ...minimal, identity_headers: { sub: ':path' } }, 'identity_headers.sub: ":path" is a pseudo-header'],
    ['identity onto a forwarding header', { ...minimal, identity_headers: { sub: 'x-forwarded-uri' } }, "the proxies' trust headers"],
    ['identity with CR LF in the name', { ...minimal, identity_headers: { sub: 'x-a\r\nx-b' } }, 'is not a valid header name'],
    ['two claims onto one header', { ...minimal, identity_headers: { sub: 'x-id', email: 'X-Id' } }, 'identity_headers.email: header "x-id" is mapped twice'],
    ['an exclude not starting with /', { ...minimal, excludes: ['public/**'] }, 'excludes[0]: must start with "/"'],
    ['an encoded exclude', { ...minimal, excludes: ['/a%2Fb'] }, 'excludes[0]: must be a decoded path'],
    ['an unknown original_request family', { ...minimal, forward_auth: { original_request: 'auto' } }, 'forward_auth.original_request: must be one of x-forwarded, x-original'],
    ['no token source', { ...minimal, tokens: { headers: [], cookies: [] } }, 'tokens: at least one header or cookie must carry the token'],
    ['the same listen address twice', { ...minimal, listen: { grpc: '127.0.0.1:9000', http: '127.0.0.1:9000' } }, 'listen: grpc and http must use different addresses'],
    ['a realm with a quote', { ...minimal, realm: 'a"b' }, 'realm: must be printable ASCII'],
    ['a tiny max token size', { ...minimal, tokens: { max_bytes: 10 } }, 'tokens.max_bytes: must be a whole number from 256 to 1048576, got 10'],
  ])('refuses %s', (_name, doc, problem) => {
    expect(problems(doc).join('\n')).toContain(problem);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('reads YAML and resolves jwks_file relative to the config file', () => {
    write('jwks.json', '{"keys":[]}');
    const path = write('ok.yaml', 'issuers:\n  - issuer: "https://i/"\n    jwks_file: ./jwks.json\n    audiences: [api]\n');
    expect(loadConfigFile(path).issuers[0]!.jwksFile).toBe(join(dir, 'jwks.json'));
  });

  it('applies listen overrides before validation', () => {
    const path = write('listen.yaml', 'issuers:\n  - issuer: "https://i/"\n    jwks_uri: "https://i/jwks"\n    audiences: [api]\n');
    expect(loadConfigFile(path, { grpc: 'unix:/tmp/p.sock' }).listen).toEqual({ grpc: 'unix:/tmp/p.sock', http: '127.0.0.1:9002' });
  });

  it.each([
    ['a missing file', '/nonexistent/portcullis.yaml', 'cannot read the file: ENOENT'],
    ['invalid YAML', 'bad.yaml:issuers: [', 'not valid YAML'],
    ['duplicate keys', 'dup.yaml:realm: a\nrealm: b\n', 'not valid YAML'],
    ['a YAML list at top level', 'list.yaml:- a\n', '(top level): must be a mapping'],
  ])('stops on %s', (_name, spec, problem) => {
    const path = spec.startsWith('/') ? spec : write(spec.split(':')[0]!, spec.slice(spec.indexOf(':') + 1));
    expect(() => loadConfigFile(path)).toThrow(problem);
  });
});

describe('route policy config', () => {
  const issuer = minimal.issuers[0]!;
  it('builds routes, named policies, the global login and upstream shaping', () => {
    const c = buildConfig({
      ...minimal,
      login: { url: 'https://login.example.com/?rd={return_url}', return_hosts: ['app.example.com'] },
      routes: [
        { name: 'admin', match: { paths: ['/admin/**'], methods: ['POST'] }, require: { scopes: ['admin'] } },
        { match: { hosts: ['*.example.com'] }, policy: 'ops' },
        { match: { paths: ['/api/**'] }, login: false },
      ],
      policies: { ops: { require: { claims: { groups: { contains: 'ops' } } }, identity_headers: { groups: 'x-auth-groups' } } },
      upstream: { payload_header: 'x-jwt-payload', forward_token: false },
    }, 'test', process.cwd());
    expect(c.policy.routes.map((r) => r.rule.name)).toEqual(['admin', 'policy ops', 'routes[2]']);
    expect(c.policy.routes[0]!.rule).toMatchObject({ require: { scopes: ['admin'] }, anonymous: 'required', login: { url: 'https://login.example.com/?rd={return_url}' } });
    expect(c.policy.routes[2]!.rule.login).toBeNull();
    expect(c.policy.policies.get('ops')!.identityHeaders).toEqual([{ claim: 'groups', header: 'x-auth-groups' }]);
    expect(c.policy).toMatchObject({ payloadHeader: 'x-jwt-payload', forwardToken: false, defaultRule: { name: 'default', anonymous: 'required' } });
  });

  it('defaults to no routes, token required, token forwarded, no login redirect', () => {
    expect(buildConfig(minimal, 'test', process.cwd()).policy).toMatchObject({ routes: [], payloadHeader: null, forwardToken: true, defaultRule: { login: null } });
  });

  it.each([
    ['a route with both policy and rule fields', { policies: { p: {} }, routes: [{ policy: 'p', require: { scopes: ['a'] } }] }, 'routes[0]: give either policy or rule fields'],
    ['an unknown policy name', { routes: [{ policy: 'nope' }] }, 'routes[0].policy: no policy named "nope"'],
    ['a requirement naming an unconfigured issuer', { routes: [{ require: { any: [{ issuers: ['https://other/'] }] } }] }, 'routes[0].require.any[0].issuers[0]: "https://other/" is not a configured issuer'],
    ['a condition with two operators', { routes: [{ require: { claims: { g: { equals: 1, contains: 2 } } } }] }, 'routes[0].require.claims.g: must be exactly one of'],
    ['a condition with an object value', { routes: [{ require: { claims: { g: { equals: { a: 1 } } } } }] }, 'routes[0].require.claims.g.equals: must be a string, number or boolean'],
    ['present: false', { routes: [{ require: { claims: { g: { present: false } } } }] }, 'routes[0].require.claims.g.present: must be true'],
    ['an unknown requirement key', { routes: [{ require: { role: 'admin' } }] }, 'routes[0].require.role: unknown key'],
    ['a lower-case method', { routes: [{ match: { methods: ['get'] } }] }, 'routes[0].match.methods[0]: "get" must be an upper-case HTTP method'],
    ['a bad host pattern', { routes: [{ match: { hosts: ['*evil.com'] } }] }, 'routes[0].match.hosts[0]: "*evil.com" must be a lower-case host name or *.domain'],
    ['a bad path pattern', { routes: [{ match: { paths: ['admin/**'] } }] }, 'routes[0].match.paths[0]: must start with "/"'],
    ['an empty prefix', { routes: [{ require: { claims: { sub: { prefix: '' } } } }] }, 'routes[0].require.claims.sub.prefix: must not be empty'],
    ['a prefix that is not a string', { routes: [{ require: { claims: { sub: { prefix: 7 } } } }] }, 'routes[0].require.claims.sub.prefix: must be a string'],
    ['a not holding a list', { routes: [{ require: { not: [{ scopes: ['a'] }] } }] }, 'routes[0].require.not: must be'],
    ['a bad condition inside not inside any', { policies: { p: { require: { any: [{ not: { claims: { 'realm_access.roles': { has: 'x' } } } }] } } } }, 'policies.p.require.any[0].not.claims.realm_access.roles: must be exactly one of'],
    ['an unconfigured issuer inside not', { routes: [{ require: { not: { issuers: ['https://other/'] } } }] }, 'routes[0].require.not.issuers[0]: "https://other/" is not a configured issuer'],
    ['a template naming a variable twice', { routes: [{ match: { paths: ['/t/{id}/u/{id}'] } }] }, 'routes[0].match.paths[0]: "{id}": the variable "id" is named twice'],
    ['a template with a bad variable name', { routes: [{ match: { paths: ['/ok', '/t/{9lives}'] } }] }, 'routes[0].match.paths[1]: "{9lives}": a variable name starts with a letter'],
    ['a template variable inside a segment', { routes: [{ match: { paths: ['/t/{id}.json'] } }] }, 'routes[0].match.paths[0]: "{id}.json": a {name} variable must be a whole segment'],
    ['a login URL that is not http(s)', { login: { url: 'javascript:alert(1)' } }, 'login.url: must be an http(s) URL'],
    ['anonymous with an unknown value', { routes: [{ anonymous: 'maybe' }] }, 'routes[0].anonymous: must be one of required, optional'],
    ['a rule identity header clashing with a global one', { routes: [{ identity_headers: { sub: 'x-auth-subject' } }] }, 'routes[0].identity_headers.sub: "x-auth-subject" is already a global identity header'],
    ['a rule identity header onto authorization', { policies: { p: { identity_headers: { sub: 'authorization' } } } }, 'policies.p.identity_headers.sub: "authorization" may not carry a claim'],
    ['a payload header that is an identity header', { upstream: { payload_header: 'x-auth-subject' } }, 'upstream.payload_header: "x-auth-subject" is also an identity header'],
    ['a rule identity header that is a token header', { tokens: { headers: [{ name: 'x-token' }] }, routes: [{ identity_headers: { sub: 'x-token' } }] }, 'routes[0].identity_headers.sub: "x-token" is also a token header'],
    ['a payload header that is a token header', { tokens: { headers: [{ name: 'x-token' }] }, upstream: { payload_header: 'x-token' } }, 'upstream.payload_header: "x-token" is also a token header'],
  ])('refuses %s', (_n, extra, problem) => {
    expect(problems({ issuers: [issuer], ...extra }).join('\n')).toContain(problem);
  });
});
