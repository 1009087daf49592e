/**
 * Reads, validates and freezes the configuration. Every problem is reported at once, by path; a config with any
 * problem never starts the service.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, insecureUrlProblem, RESERVED_PATHS, type RawConfig } from './schema.ts';
import { INVALID } from './kit.ts';
import type { Config, IssuerConfig } from '../core/config.ts';
import { toPolicyConfig } from './policy.ts';
import { toReplayConfig } from './replay.ts';
import { dpopStoreProblem, toDpopConfig } from './dpop.ts';
import { signerProblems, toSignerConfig, withEndpointPolicy } from './signer-schema.ts';
import { toSignInConfig } from './signin.ts';
import { x5cIssuer } from './x5c.ts';
import { toClientCertificateConfig } from './client-certificate.ts';
import { identityHeaderNames } from '../core/identity.ts';
import { deepFreeze } from '../core/freeze.ts';
import { toIntrospectionConfig } from './introspection.ts';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Validates an already-parsed document. `baseDir` resolves relative `jwks_file` paths. */
export function buildConfig(doc: unknown, source: string, baseDir: string, demo = false): Config {
  const problems: string[] = [];
  const raw = configSchema(doc, '', problems);
  const forwardAuth = (doc as { forward_auth?: Record<string, unknown> } | null)?.forward_auth;
  if (typeof forwardAuth === 'object' && forwardAuth !== null && forwardAuth.endpoints !== undefined) {
    const single = ['path', 'original_request', 'redirect_status'].filter((k) => forwardAuth[k] !== undefined);
    if (single.length > 0) problems.push(`forward_auth: give either endpoints or ${single.join(', ')}, not both`);
  }
  if (raw === INVALID || problems.length > 0) throw new ConfigError(source, problems);
  const config = toConfig(raw, doc, baseDir, problems, demo);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return deepFreeze(config);
}

/** Reads and validates a YAML config file. `listen` overrides (command-line flags) apply before validation. */
export function loadConfigFile(path: string, listen: { grpc?: string; http?: string } = {}): Config {
  return loadConfigFileWithText(path, listen).config;
}

/** As loadConfigFile, also returning the text it validated (a reload hands exactly that text to the workers). */
export function loadConfigFileWithText(path: string, listen: { grpc?: string; http?: string } = {}): { config: Config; text: string } {
  const source = resolve(path);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (e) {
    throw new ConfigError(source, [`cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  return { config: parseConfigText(text, path, listen), text };
}

/** Validates the text of a config file located at `path` (relative `jwks_file` paths resolve next to it). */
export function parseConfigText(text: string, path: string, listen: { grpc?: string; http?: string } = {}): Config {
  const source = resolve(path);
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(source, [`not valid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  if (listen.grpc !== undefined || listen.http !== undefined) {
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
      const d = doc as Record<string, unknown>;
      const current = typeof d.listen === 'object' && d.listen !== null ? (d.listen as Record<string, unknown>) : {};
      d.listen = { ...current, ...listen };
    }
  }
  return buildConfig(doc, source, dirname(source));
}

function toConfig(raw: RawConfig, doc: unknown, baseDir: string, problems: string[], demo: boolean): Config {
  const seenIssuers = new Set<string>();
  if (raw.signer === undefined && (raw.issuers === undefined || raw.issuers.length === 0)) {
    problems.push(raw.issuers === undefined ? 'issuers: required' : 'issuers: must not be empty');
  }
  const reservedHeaders = new Set([...Object.values(raw.identity_headers), ...raw.tokens.headers.map((h) => h.name)].map((h) => h.toLowerCase()));
  const issuers: IssuerConfig[] = (raw.issuers ?? []).map((i, n) => {
    const at = `issuers[${n}]`;
    const sources = (['jwks_uri', 'jwks_file', 'jwks', 'discovery', 'openid_configuration', 'x5c'] as const).filter((k) => i[k] !== undefined && i[k] !== false);
    if (sources.length !== 1) {
      problems.push(`${at}: needs exactly one of jwks_uri, jwks_file, jwks, discovery, openid_configuration, x5c (got ${sources.length ? sources.join(', ') : 'none'})`);
    }
    if (seenIssuers.has(i.issuer)) problems.push(`${at}.issuer: ${JSON.stringify(i.issuer)} is configured twice`);
    seenIssuers.add(i.issuer);
    for (const key of ['jwks_uri', 'openid_configuration'] as const) {
      const problem = i[key] === undefined ? null : insecureUrlProblem(i[key], i.allow_insecure_http);
      if (problem) problems.push(`${at}.${key}: ${problem}`);
    }
    let discoveryUrl = i.openid_configuration;
    if (i.discovery) {
      // OIDC Discovery 4: the issuer with any trailing slash removed, then the well-known path.
      discoveryUrl = `${i.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const problem = insecureUrlProblem(discoveryUrl, i.allow_insecure_http);
      if (problem) problems.push(`${at}.discovery: the issuer must be an https URL to discover its keys (${problem})`);
    }
    const jwksFile = i.jwks_file === undefined ? undefined : resolve(baseDir, i.jwks_file);
    if (jwksFile !== undefined) {
      try {
        readFileSync(jwksFile);
      } catch (e) {
        problems.push(`${at}.jwks_file: cannot read ${jwksFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    return {
      issuer: i.issuer,
      ...(i.jwks_uri !== undefined ? { jwksUri: i.jwks_uri } : {}),
      ...(jwksFile !== undefined ? { jwksFile } : {}),
      ...(i.jwks !== undefined ? { jwks: i.jwks } : {}),
      ...(discoveryUrl !== undefined ? { discoveryUrl } : {}),
      allowInsecureHttp: i.allow_insecure_http,
      audiences: i.audiences,
      algorithms: i.algorithms,
      leewayMs: i.leeway,
      ...(i.max_ttl !== undefined ? { maxTtlMs: i.max_ttl } : {}),
      requiredClaims: i.required_claims,
      replay: i.replay,
      senderConstraint: i.sender_constraint,
      ...x5cIssuer(i, at, baseDir, reservedHeaders, problems),
      ...(i.introspection !== undefined
        ? { introspection: toIntrospectionConfig(i.introspection, { at, baseDir, hasDiscovery: discoveryUrl !== undefined, urlProblem: (u) => insecureUrlProblem(u, i.allow_insecure_http) }, problems) }
        : {}),
    };
  });
  const opaque = (raw.issuers ?? []).flatMap((i, n) => (i.introspection?.opaque_tokens ? [`issuers[${n}]`] : []));
  if (opaque.length > 1) problems.push(`${opaque[1]}.introspection.opaque_tokens: only one issuer may answer for opaque tokens (${opaque[0]} already does)`);

  const tokenHeaders = raw.tokens.headers.map((h) => ({ name: h.name.toLowerCase(), prefix: h.prefix }));
  const identityHeaders = Object.entries(raw.identity_headers).map(([claim, header]) => ({ claim, header: header.toLowerCase() }));
  const seenHeaders = new Set<string>();
  for (const { claim, header } of identityHeaders) {
    if (seenHeaders.has(header)) problems.push(`identity_headers.${claim}: header "${header}" is mapped twice`);
    seenHeaders.add(header);
    if (tokenHeaders.some((t) => t.name === header)) problems.push(`identity_headers.${claim}: "${header}" is also a token header`);
  }
  if (raw.jwks.min_refresh > raw.jwks.refresh_interval) problems.push('jwks.min_refresh: must not exceed jwks.refresh_interval');
  if (raw.listen.grpc === raw.listen.http && !raw.listen.grpc.endsWith(':0')) problems.push('listen: grpc and http must use different addresses');
  const admin = raw.listen.admin;
  if (admin !== undefined && (admin === raw.listen.grpc || admin === raw.listen.http) && !admin.endsWith(':0')) problems.push('listen.admin: must differ from grpc and http');
  if (tokenHeaders.length === 0 && raw.tokens.cookies.length === 0) problems.push('tokens: at least one header or cookie must carry the token');
  const endpoints = (raw.forward_auth.endpoints ?? [raw.forward_auth]).map((e) => ({ path: e.path, originalRequest: e.original_request, redirectStatus: e.redirect_status }));
  const endpointKey = (i: number) => (raw.forward_auth.endpoints ? `forward_auth.endpoints[${i}].path` : 'forward_auth.path');
  endpoints.forEach((e, i) => {
    if (endpoints.findIndex((o) => o.path === e.path) !== i) problems.push(`${endpointKey(i)}: ${e.path} is served twice`);
  });
  const envoyPrefix = raw.envoy_http?.path_prefix;
  if (envoyPrefix !== undefined) {
    // Every request under the prefix is an Envoy authorization request: nothing else may live there.
    const taken = [...endpoints.map((e, i) => [endpointKey(i), e.path] as const), ...RESERVED_PATHS.map((r) => ['reserved path', r] as const)];
    for (const [key, p] of taken) {
      if (p === envoyPrefix || p.startsWith(`${envoyPrefix}/`)) problems.push(`envoy_http.path_prefix: ${envoyPrefix} would take over the ${key} ${p}`);
    }
  }
  // The demo's key lives in one process, so the demo runs one.
  const workers = demo ? 1 : (raw.workers ?? availableParallelism());
  const signer = raw.signer === undefined ? undefined : toSignerConfig(raw.signer, (dir) => resolve(baseDir, dir), workers, problems);
  if (signer !== undefined) {
    problems.push(...signerProblems(signer, [...endpoints.map((e) => e.path), ...RESERVED_PATHS], envoyPrefix));
  }
  const policy = toPolicyConfig(raw, seenIssuers, seenHeaders, new Set(tokenHeaders.map((t) => t.name)), problems);
  const clientCertificate = raw.client_certificate === undefined
    ? undefined
    : toClientCertificateConfig(raw.client_certificate, new Set([...tokenHeaders.map((t) => t.name), ...identityHeaderNames({ identityHeaders, policy, issuers })]), problems);

  const signIn = raw.login !== undefined && 'oidc' in raw.login
    ? toSignInConfig(raw.login.oidc, {
      issuers,
      tokenCookies: raw.tokens.cookies,
      tokenMaxBytes: raw.tokens.max_bytes,
      reservedPaths: [...endpoints.map((e) => e.path), ...RESERVED_PATHS],
      ...(envoyPrefix !== undefined ? { envoyPrefix } : {}),
      baseDir,
      env: process.env,
      urlProblem: insecureUrlProblem,
    }, problems)
    : undefined;
  // Sign-in verifies the IdP's ID tokens with the issuer's JWKS: an x5c issuer has none.
  if (signIn !== undefined && issuers.some((i) => i.issuer === signIn.issuer && i.x5c !== undefined)) {
    problems.push(`login.oidc.issuer: ${JSON.stringify(signIn.issuer)} is an x5c issuer; sign-in needs an issuer with OIDC keys`);
  }

  const explicitDpop = typeof doc === 'object' && doc !== null && (doc as Record<string, unknown>).dpop !== undefined;
  const dpopProblem = dpopStoreProblem(explicitDpop, raw.replay.store, workers, issuers, policy);
  if (dpopProblem !== null) problems.push(dpopProblem);

  return {
    listen: { grpc: raw.listen.grpc, http: raw.listen.http, ...(admin !== undefined ? { admin } : {}) },
    realm: raw.realm,
    issuers,
    tokens: { headers: tokenHeaders, cookies: raw.tokens.cookies, maxBytes: raw.tokens.max_bytes },
    skipPreflight: raw.skip_preflight,
    excludes: raw.excludes,
    identityHeaders,
    identityHeaderMaxBytes: raw.identity_header_max_bytes,
    forwardAuth: { endpoints },
    grpc: { maxRequestBytes: raw.grpc.max_request_bytes },
    ...(envoyPrefix !== undefined ? { envoyHttp: { pathPrefix: envoyPrefix } } : {}),
    jwks: {
      refreshIntervalMs: raw.jwks.refresh_interval,
      minRefreshMs: raw.jwks.min_refresh,
      cooldownMs: raw.jwks.cooldown,
      timeoutMs: raw.jwks.timeout,
      maxStaleMs: raw.jwks.max_stale,
      maxBytes: raw.jwks.max_bytes,
    },
    ...(signIn !== undefined ? { signIn } : {}),
    policy: signer === undefined ? policy : withEndpointPolicy(policy, signer, problems),
    cache: { maxEntries: raw.cache.max_entries, maxBytes: raw.cache.max_bytes, negativeTtlMs: raw.cache.negative_ttl },
    telemetry: {
      recordSubject: raw.telemetry.record_subject,
      logLevel: raw.telemetry.log_level,
      logAllows: raw.telemetry.log_allows === true ? 1 : raw.telemetry.log_allows === false ? 0 : raw.telemetry.log_allows,
      metrics: raw.telemetry.metrics,
    },
    shutdown: { drainMs: raw.shutdown.drain, timeoutMs: raw.shutdown.timeout },
    workers,
    replay: toReplayConfig(raw.replay, issuers, policy, workers, problems),
    dpop: toDpopConfig(raw.dpop, baseDir, problems),
    ...(signer !== undefined ? { signer } : {}),
    ...(clientCertificate !== undefined ? { clientCertificate } : {}),
    demo,
  };
}

