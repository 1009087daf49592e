/**
 * `portcullis explain --config FILE [--method M] [--path P] [--host H] [--header 'Name: value']... [--client-cert FILE] [TOKEN]`
 *
 * The tool for "it works direct but not behind the proxy": loads the config, loads the keys exactly as the service
 * does (and says so when it cannot), runs the real decision for one request and prints, in plain words, every check
 * it passed or failed and the answer a proxy would get. The reason codes are the same stable codes as in deny
 * bodies, logs and metrics.
 *
 * The token itself is never printed (only its size and the same fingerprint the decision log uses). Exit code 0 for
 * allow, 1 for deny, 2 for usage or configuration errors.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { Config } from '../core/config.ts';
import { createCore, defaultRuntime, type Runtime } from '../app.ts';
import { CoreAuthorizer } from '../core/authorizer.ts';
import type { ExplainStep } from '../core/explain.ts';
import type { AuthRequest, Decision } from '../core/types.ts';
import { maskHeader, tokenFingerprint } from '../core/sources.ts';
import type { DenyReason } from '../core/reasons.ts';
import { certificateFrom, type ClientCertificate } from '../core/client-certificate.ts';
import { pemCertificates } from '../core/pem.ts';

export const EXPLAIN_USAGE = `usage: portcullis explain --config FILE [options] [TOKEN | -]
  Runs the real decision for one request and prints every check it passed or failed.
  --config FILE            YAML configuration (default: $PORTCULLIS_CONFIG)
  --method M               original request method (default GET)
  --path P                 original request target, raw, query included (default /)
  --host H                 original host[:port] (default: empty)
  --scheme S               original scheme, http or https (default https)
  --header 'Name: value'   an original request header; repeat for more (Accept: text/html for a browser)
  --policy NAME            as if Envoy named this policy in context_extensions
  --client-cert FILE       the client certificate (PEM) the proxy would pass (certificate-bound tokens)
  --at TIME                decide at this time (ISO 8601 or Unix seconds) instead of now
  TOKEN                    sent as the first configured token source (default Authorization: Bearer);
                           "-" reads it from stdin (keeps it out of shell history); omit it for no token
Exit code: 0 allow, 1 deny, 2 usage or configuration error. The token is never printed.`;

export interface ExplainIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Reads the token for "-". */
  readonly stdin?: () => string;
  readonly runtime?: Runtime;
}

const processIo: ExplainIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stdin: () => readFileSync(0, 'utf8'),
};

class UsageError extends Error {}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A plain-words hint for every deny reason, keyed by the reason codes themselves: a renamed or added reason without
 * a hint fails the type check.
 */
const HINTS: Readonly<Record<DenyReason, string>> = {
  token_malformed: 'the token is not a compact JWS with canonical base64url segments and UTF-8 JSON header and payload (JWE is not accepted)',
  token_ambiguous: 'the request carries two different tokens (headers, cookie, cookie chunks): send exactly one',
  token_too_large: 'the token is larger than tokens.max_bytes',
  algorithm_not_allowed: "the token's alg is not in the issuer's algorithms list",
  lifetime_too_long: 'exp - iat exceeds the issuer\'s max_ttl: ask the IdP for shorter-lived tokens or raise max_ttl',
  claim_missing: 'a claim the issuer requires (required_claims, exp, iss) is absent, or a required claim path resolves two ways in this token',
  claim_invalid: 'a claim has the wrong type or value (e.g. a non-numeric exp), or a string in the payload is not Unicode text (a lone surrogate escape such as \\ud800)',
  original_request_missing: 'the proxy must send the original method and URI in the header family this endpoint reads (forward_auth original_request)',
  request_malformed: 'the Check call did not carry exactly one complete CheckRequest: a client or proxy bug',
  request_too_large: 'the CheckRequest is larger than grpc.max_request_bytes: raise it with Envoy\'s max_request_headers_kb / max_request_bytes',
  internal_error: 'Portcullis could not decide; the log has the error (it is still a deny)',
  token_missing: 'the proxy must pass the Authorization header (Envoy HTTP mode: allowed_headers; nginx: do not clear it) or the token cookie',
  audience_mismatch: "the token was issued for another audience; add it to the issuer's audiences, or get a token for this API",
  issuer_unknown: 'the "iss" claim must equal a configured issuer exactly (a trailing slash counts)',
  key_unknown: "the token's kid is not in the issuer's key set: another environment's token, or keys not yet published",
  signature_invalid: 'the key with this kid did not make this signature: a token from another environment, or a modified token',
  token_expired: 'get a fresh token; check the clock of this machine and of the IdP (leeway applies)',
  token_not_yet_valid: 'the clocks disagree: check NTP on this machine and on the IdP',
  path_ambiguous: 'the path has encoded slashes, dot segments, ";", "\\" or double encoding: the proxy and the app could read it differently',
  keys_unavailable: 'the key source cannot be read: check the URL or file and the network from this machine',
  token_inactive: 'the issuer\'s introspection endpoint says this token is not active: revoked, expired, unknown to it, or issued by another environment',
  introspection_unavailable: 'the introspection endpoint could not answer: check introspection.endpoint (or discovery), the network, the client credentials (the log names the IdP\'s error) and introspection.timeout',
  scope_missing: 'the token lacks a scope this route requires',
  requirement_not_met: "the token's claims (with a `when`: the claims and the request) do not meet this route's requirement, or a condition could not be decided: the require.* lines above show each condition (an ambiguous claim path or a `when` that fails to evaluate never passes, not even under not; docs/cel.md)",
  policy_unknown: 'the Envoy route names a policy that is not in the config',
  jti_missing: 'this issuer (replay: true) or route (single_use) takes single-use tokens only: the token needs a unique "jti" claim',
  token_replayed: 'this single-use token was already used (on this or another replica): get a new token for every request',
  replay_store_unavailable: 'the replay store (Redis) cannot be reached or answered too slowly: check replay.redis.url, the network and Redis itself',
  authorization_present: 'a signing rule refuses a call that already carries the header it would set: drop it in the service, or set signer.replace_existing: true',
  destination_invalid: 'the destination (scheme and host) is not http(s) with a plain host[:port]: check what the proxy sends as Host / X-Forwarded-Host',
  audience_not_allowed: 'the destination origin (or fixed signer.audience) is not in signer.allowed_audiences',
  signing_unavailable: 'no signing key can sign now: none has activated yet, or the key directory went bad and its keys retired (see /keys)',
  x5c_untrusted: "the x5c chain does not lead to one of the issuer's x5c.roots, or a CA on the way may not issue (CA flag, keyCertSign, path length): send the leaf and its intermediates, and configure the CA's root",
  x5c_expired: 'a certificate of the x5c chain is expired or not yet valid: renew the leaf (step ca renew) or check the clocks',
  x5c_usage: "the leaf certificate may not sign tokens: it must not be a CA, and needs the digitalSignature key usage and one of the issuer's x5c.extended_key_usage (default clientAuth)",
  dpop_proof_missing: 'the token is DPoP-bound (cnf.jkt): send it as "Authorization: DPoP <token>" with a fresh proof in the DPoP header (the proxy must pass that header; Envoy HTTP mode: allowed_headers)',
  dpop_proof_invalid: 'the DPoP proof fails a check of RFC 9449 4.3 (typ dpop+jwt, an alg in dpop.algorithms, a public jwk, htm/htu of this request, iat within dpop.max_age, ath of this token), or came twice or beside a Bearer token',
  dpop_proof_replayed: 'a DPoP proof is good for one request: make a new proof (new jti) for every request',
  dpop_binding_mismatch: 'the proof was made with another key than the one the token is bound to (cnf.jkt), or a DPoP-bound token was sent as Bearer, or an unbound token as DPoP',
  dpop_nonce_required: 'dpop.nonce is on: retry with the nonce from the DPoP-Nonce answer header in the proof (clients like oauth4webapi do this once by themselves)',
  token_not_sender_constrained: 'this issuer (sender_constraint: required) or route (require.sender_constrained) takes DPoP- or certificate-bound tokens only: ask the IdP for a bound token',
  certificate_missing: "the token is certificate-bound (cnf.x5t#S256) and no readable client certificate came with the request: mTLS to the proxy, Envoy's include_peer_certificate, or client_certificate.header written by the proxy",
  certificate_binding_mismatch: "the client certificate is not the one the token was issued to (cnf.x5t#S256 is the base64url SHA-256 of its DER): use the certificate the token was requested with",
  x5c_malformed: 'x5c must be a list of at most 8 standard-base64 DER certificates (16 KB), leaf first, without jwk/jku/x5u beside it',
};

interface Options {
  readonly configPath: string;
  readonly request: AuthRequest;
  readonly token: string | undefined;
  readonly tokenWhere: string;
  readonly at: number | undefined;
}

export async function runExplain(argv: readonly string[], io: ExplainIo = processIo): Promise<number> {
  let config: Config;
  let options: Options;
  try {
    const parsed = parseOptions(argv, io);
    if (parsed === 'help') {
      io.out(`${EXPLAIN_USAGE}\n`);
      return 0;
    }
    config = loadConfigFile(parsed.configPath);
    options = withToken(parsed, config);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`portcullis explain: ${e.message}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      io.err(`portcullis explain: ${e.message}\n${EXPLAIN_USAGE}\n`);
      return 2;
    }
    throw e;
  }

  const base = io.runtime ?? defaultRuntime;
  const runtime: Runtime = options.at === undefined ? base : { ...base, now: () => options.at! };
  const core = createCore(config, runtime);
  try {
    await core.start();
    const lines: string[] = [];
    const print = (line = '') => lines.push(line);
    const r = options.request;
    print(`request: ${r.method} ${r.scheme}://${r.host || '(no host)'}${r.path}${r.contextExtensions.size ? ` (Envoy policy ${JSON.stringify(r.contextExtensions.get('policy'))})` : ''}`);
    // Header values are shown, except the tokens in them (token headers and token cookies: core/sources.ts).
    for (const [name, values] of r.headers) {
      for (const value of values) print(`  header ${name}: ${JSON.stringify(maskHeader(name, value, config.tokens))}`);
    }
    print(options.token === undefined
      ? '  token: none'
      : `  token: ${Buffer.byteLength(options.token)} bytes in ${options.tokenWhere}, fingerprint ${tokenFingerprint(options.token)} (sha-256; the token itself is never printed)`);
    if (options.at !== undefined) print(`  time: ${new Date(options.at).toISOString()}`);
    print();
    print('keys:');
    for (const source of core.sources) {
      const st = source.status();
      print(st.ready
        ? `  ✔ ${st.issuer}: ${st.keys.length} ${st.keys[0]?.kty === 'x509' ? 'root' : 'key'}${st.keys.length === 1 ? '' : 's'} (${st.keys.map((k) => k.kid ?? k.subject ?? `${k.kty} without kid`).join(', ')}) from ${st.location}`
        : `  ✘ ${st.issuer}: keys unavailable from ${st.location}: ${st.lastError ?? 'not loaded'} — its tokens are denied keys_unavailable`);
    }
    if (core.signing !== undefined) {
      // Signing keys by kid and state only: never key material.
      const st = core.signing.source.status();
      const keys = st.keys.map((k) => `${k.kid} ${k.state}`).join(', ');
      print(st.ready ? `  ✔ signer: ${keys} from ${st.source}` : `  ✘ signer: no key can sign now (${keys || 'no keys'}) from ${st.source}${st.last_error ? `: ${st.last_error}` : ''}`);
    }
    print();
    print('checks:');
    const steps: ExplainStep[] = [];
    const authorizer = core.authorizer instanceof CoreAuthorizer ? core.authorizer : new CoreAuthorizer(config, core.verifier);
    const decision = await authorizer.check(r, (step) => steps.push(step));
    for (const step of steps) print(`  ${step.ok ? '✔' : '✘'} ${step.check}: ${step.detail}`);
    if (steps.length === 0) print('  (none)');
    print();
    describeDecision(decision, config, print);
    io.out(`${lines.join('\n')}\n`);
    return decision.kind === 'allow' ? 0 : 1;
  } finally {
    core.stop();
  }
}

function describeDecision(d: Decision, config: Config, print: (line?: string) => void): void {
  if (d.kind === 'allow') {
    print(`decision: ALLOW (${d.reason})${d.rule !== undefined ? `, rule ${d.rule}` : ''}${d.issuer !== undefined ? `, issuer ${d.issuer}` : ''}`);
    if (d.identity.length) {
      print('  identity headers for the upstream:');
      for (const { name, value } of d.identity) {
        const shown = value === undefined
          ? '(not set: removed, never the client\'s own value)'
          : name === config.policy.payloadHeader ? `(base64url JSON of the verified claims, ${value.length} bytes)` : JSON.stringify(value);
        print(`    ${name}: ${shown}`);
      }
    }
    if (d.signed !== undefined) print(`  minted token set in ${d.signed[0]} (${d.signed[1].length} bytes, not shown)`);
    const cookieSet = (d.setHeaders ?? []).filter(([n]) => n !== d.signed?.[0]);
    if (d.stripHeaders?.length || cookieSet.length) {
      const removed = [...(d.stripHeaders ?? []), ...cookieSet.map(([n]) => `${n} (token cookie only)`)];
      print(`  token removed before the upstream (upstream.forward_token: false): ${removed.join(', ')}`);
    }
    return;
  }
  print(`decision: DENY ${d.status} ${d.reason}: ${d.message}${d.rule !== undefined ? ` (rule ${d.rule})` : ''}`);
  for (const [name, value] of d.headers) {
    if (name === 'content-type') continue;
    print(`  ${name === 'www-authenticate' ? 'WWW-Authenticate' : name === 'location' ? 'Location' : name === 'retry-after' ? 'Retry-After' : name}: ${value}`);
  }
  if (d.status === 302) {
    print('  a login redirect: browser navigations only; API calls get 401');
    for (const e of config.forwardAuth.endpoints) {
      if (e.redirectStatus === 401) print(`  forward auth on ${e.path} answers this redirect as 401 with the Location (redirect_status: 401, for nginx)`);
    }
  }
  print(`  body: ${d.body}`);
  const hint = HINTS[d.reason as DenyReason];
  if (hint !== undefined) print(`  hint: ${hint}`);
}

function parseOptions(argv: readonly string[], io: ExplainIo): Options | 'help' {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        method: { type: 'string' },
        path: { type: 'string' },
        host: { type: 'string' },
        scheme: { type: 'string' },
        header: { type: 'string', multiple: true },
        policy: { type: 'string' },
        'client-cert': { type: 'string' },
        at: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const configPath = values.config ?? process.env.PORTCULLIS_CONFIG;
  if (!configPath) throw new UsageError('--config FILE is required');
  if (positionals.length > 1) throw new UsageError(`expected at most one TOKEN, got ${positionals.length} arguments`);

  const method = (values.method ?? 'GET').toUpperCase();
  if (!TOKEN_CHARS.test(method)) throw new UsageError(`--method ${JSON.stringify(values.method)} is not an HTTP method`);
  const scheme = (values.scheme ?? 'https').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') throw new UsageError('--scheme must be http or https');
  const path = values.path ?? '/';
  if (path === '') throw new UsageError('--path must not be empty');

  const headers = new Map<string, string[]>();
  for (const h of values.header ?? []) {
    const m = /^([^:\s]+):[ \t]*(.*)$/.exec(h);
    if (!m || !TOKEN_CHARS.test(m[1]!)) throw new UsageError(`--header ${JSON.stringify(h)} must look like 'Name: value'`);
    const name = m[1]!.toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), m[2]!]);
  }

  let token = positionals[0];
  if (token === '-') {
    if (!io.stdin) throw new UsageError('cannot read the token from stdin');
    token = io.stdin().trim();
    if (token === '') throw new UsageError('no token on stdin');
  }

  let at: number | undefined;
  if (values.at !== undefined) {
    at = /^\d+(\.\d+)?$/.test(values.at) ? Number(values.at) * 1000 : Date.parse(values.at);
    if (!Number.isFinite(at)) throw new UsageError(`--at ${JSON.stringify(values.at)} is not a time (ISO 8601 or Unix seconds)`);
  }

  let clientCertificate: ClientCertificate | undefined;
  if (values['client-cert'] !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(values['client-cert'], 'utf8');
    } catch (e) {
      throw new UsageError(`--client-cert: cannot read ${values['client-cert']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const ders = pemCertificates(pem);
    if (ders.length !== 1) throw new UsageError(`--client-cert: ${values['client-cert']} must hold exactly one PEM certificate (holds ${ders.length})`);
    clientCertificate = certificateFrom('header', [ders[0]!.toString('base64')]);
  }

  const request: AuthRequest = {
    transport: 'http',
    method,
    host: values.host ?? '',
    scheme,
    path,
    headers,
    contextExtensions: values.policy !== undefined ? new Map([['policy', values.policy]]) : new Map(),
    ...(clientCertificate !== undefined ? { clientCertificate } : {}),
  };
  return { configPath, request, token, tokenWhere: '', at };
}

/** Puts the token where the configured first token source expects it (default `Authorization: Bearer …`). */
function withToken(options: Options, config: Config): Options {
  if (options.token === undefined) return options;
  const headers = new Map(options.request.headers as Map<string, string[]>);
  const where = placeToken(headers, options.token, config.tokens);
  return { ...options, request: { ...options.request, headers }, tokenWhere: where };
}

/**
 * Adds `token` to `headers` where the first configured token source expects it (a header with its prefix, else the
 * first token cookie) and says where. `explain` and `test` send their tokens the same way.
 */
export function placeToken(headers: Map<string, string[]>, token: string, tokens: Config['tokens']): string {
  const source = tokens.headers[0];
  if (source !== undefined) {
    headers.set(source.name, [...(headers.get(source.name) ?? []), `${source.prefix}${token}`]);
    return `${source.name} header`;
  }
  const cookie = tokens.cookies[0]!;
  headers.set('cookie', [...(headers.get('cookie') ?? []), `${cookie}=${token}`]);
  return `cookie ${cookie}`;
}
