/**
 * `portcullis test --config FILE TESTS.yaml...`
 *
 * A decision table run offline through the real authorizer (docs/testing-rules.md): the config is loaded by the real
 * loader and every case is decided by a core built by app.ts createCore, the one the service runs. Only the key
 * sources are swapped: each issuer's keys (jwks_uri, discovery, jwks_file, inline jwks, x5c roots) are replaced by
 * one throwaway key made for this run, which signs the cases' tokens, the way the tests inject inline JWKS. Nothing
 * is contacted: the fetch of the runtime refuses, and a Redis replay store becomes an in-memory one.
 *
 * Every case gets a fresh core (no token cache or consumed jti carries over from one case to the next), at one
 * fixed "now" for the whole run. Exit code 0 all pass, 1 some fail, 2 usage, config or test-file error.
 */
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ConfigError, loadConfigFile } from '../config/load.ts';
import type { Algorithm, Config, IssuerConfig } from '../core/config.ts';
import { createCore, type Runtime } from '../app.ts';
import { identityHeaderNames } from '../core/identity.ts';
import type { AuthRequest, Decision } from '../core/types.ts';
import { placeToken } from './explain.ts';
import { processIo, type CliIo } from './validate.ts';
import { readTestFile, type TestCase, type TokenSpec } from './test-file.ts';

export const TEST_USAGE = `usage: portcullis test --config FILE TESTS.yaml...
  Runs each case of the decision tables through the real authorizer, offline: each issuer's keys are replaced by a
  throwaway key that signs the cases' tokens (docs/testing-rules.md).
  --config FILE   YAML configuration (default: $PORTCULLIS_CONFIG)
Prints one line per case (✔ or ✘ with the difference) and "N passed, M failed" last.
Exit code: 0 all pass, 1 some fail, 2 usage, configuration or test-file error.`;

/** The kid of every throwaway key (an x5c issuer's stand-in key is found by it like a JWKS key). */
const KID = 'portcullis-test';
/** Token lifetime when a case gives no `exp`. */
const DEFAULT_TTL_S = 300;

interface StandIn {
  readonly alg: Algorithm;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export async function runTests(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let values;
  let files: string[];
  try {
    const parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    values = parsed.values;
    files = parsed.positionals;
    if (values.help) {
      io.out(`${TEST_USAGE}\n`);
      return 0;
    }
    if (!(values.config ?? process.env.PORTCULLIS_CONFIG)) throw new Error('--config FILE is required');
    if (files.length === 0) throw new Error('give at least one TESTS.yaml');
  } catch (e) {
    io.err(`portcullis test: ${(e as Error).message}\n${TEST_USAGE}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfigFile(values.config ?? process.env.PORTCULLIS_CONFIG!);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`portcullis test: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const headers = new Set(identityHeaderNames(config));
  const tables: { file: string; cases: TestCase[] }[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const read = readTestFile(file, headers);
    if ('problems' in read) problems.push(...read.problems);
    else tables.push({ file, cases: read.cases });
  }
  if (problems.length > 0) {
    io.err(`portcullis test: invalid test file:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 2;
  }

  const now = Date.now();
  const keys = new Map<string, Promise<StandIn>>();
  const keyFor = (issuer: string, algorithms: readonly Algorithm[]): Promise<StandIn> => {
    let key = keys.get(issuer);
    if (key === undefined) keys.set(issuer, (key = standInKey(algorithms)));
    return key;
  };
  // Every configured issuer's stand-in exists before the first case: the config every case runs on holds them all.
  await Promise.all(config.issuers.map((i) => keyFor(i.issuer, i.algorithms)));
  const offline = await withStandInKeys(config, keys);
  const runtime: Runtime = {
    now: () => now,
    fetch: async (url) => {
      throw new Error(`portcullis test is offline: refused to fetch ${url}`);
    },
  };

  let passed = 0;
  let failed = 0;
  for (const { file, cases } of tables) {
    for (const c of cases) {
      const token = await tokenOf(c.token, config, keyFor, now);
      const decision = await decide(offline, runtime, request(c, token, config));
      const differences = compare(c.expect, decision);
      const label = files.length > 1 ? `${file}: ${c.name}` : c.name;
      if (differences.length === 0) passed++;
      else failed++;
      io.out(differences.length === 0 ? `✔ ${label}\n` : `✘ ${label}: ${differences.join('; ')} (got ${describe(decision)})\n`);
    }
  }
  io.out(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

/** A key pair for the first of the issuer's algorithms (ES256 when allowed: quick to make). */
async function standInKey(algorithms: readonly Algorithm[]): Promise<StandIn> {
  const alg = algorithms.includes('ES256') ? 'ES256' : algorithms[0]!;
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: KID, alg, use: 'sig' } };
}

/** The config with every issuer's key source replaced by its stand-in key, and no Redis. */
async function withStandInKeys(config: Config, keys: ReadonlyMap<string, Promise<StandIn>>): Promise<Config> {
  const issuers: IssuerConfig[] = [];
  for (const issuer of config.issuers) {
    // Introspection is a call to the IdP: offline, the issuer's tokens are the stand-in JWTs, verified locally only.
    const { jwksUri: _u, jwksFile: _f, discoveryUrl: _d, x5c: _x, jwks: _j, introspection: _i, ...rest } = issuer;
    issuers.push({ ...rest, jwks: { keys: [(await keys.get(issuer.issuer)!).jwk as Record<string, unknown>] } });
  }
  return {
    ...config,
    issuers,
    ...(config.replay !== undefined ? { replay: { ...config.replay, store: 'memory' as const } } : {}),
  };
}

/** The token text of a case: none, the raw string, or its claims with the defaults, signed by the issuer's stand-in. */
async function tokenOf(spec: TokenSpec | undefined, config: Config, keyFor: (issuer: string, algs: readonly Algorithm[]) => Promise<StandIn>, now: number): Promise<string | undefined> {
  if (spec === undefined || spec.kind === 'none') return undefined;
  if (spec.kind === 'raw') return spec.value;
  const first = config.issuers[0];
  const issuer = spec.issuer ?? first?.issuer ?? 'https://issuer.invalid/';
  const configured = config.issuers.find((i) => i.issuer === issuer);
  // An issuer the config does not know still gets a key of its own (the case is then about issuer_unknown).
  const key = await keyFor(issuer, configured?.algorithms ?? ['ES256']);
  const iat = Math.floor(now / 1000);
  const aud = (configured ?? first)?.audiences[0];
  const payload: Record<string, unknown> = { iss: issuer, ...(aud !== undefined ? { aud } : {}), iat, exp: iat + DEFAULT_TTL_S, ...spec.claims };
  for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: KID, typ: 'JWT' }).sign(key.privateKey);
}

function request(c: TestCase, token: string | undefined, config: Config): AuthRequest {
  const headers = new Map<string, string[]>();
  for (const [name, values] of Object.entries(c.request.headers)) {
    const lower = name.toLowerCase();
    headers.set(lower, [...(headers.get(lower) ?? []), ...values]);
  }
  if (token !== undefined) placeToken(headers, token, config.tokens);
  return {
    // A named policy is what Envoy's context_extensions pick: the case is then a gRPC Check.
    transport: c.policy !== undefined ? 'grpc' : 'http',
    method: c.request.method.toUpperCase(),
    host: c.request.host,
    scheme: c.request.scheme,
    path: c.request.path,
    headers,
    contextExtensions: c.policy !== undefined ? new Map([['policy', c.policy]]) : new Map(),
  };
}

async function decide(config: Config, runtime: Runtime, r: AuthRequest): Promise<Decision> {
  const core = createCore(config, runtime);
  try {
    await core.start();
    return await core.authorizer.check(r);
  } finally {
    core.stop();
  }
}

/** What differs from the expectation, in words; [] when the case passes. */
export function compare(expect: TestCase['expect'], d: Decision): string[] {
  const out: string[] = [];
  const status = d.kind === 'allow' ? 200 : d.status;
  if (expect.decision !== undefined && expect.decision !== d.kind) out.push(`expected ${expect.decision}, got ${d.kind}`);
  if (expect.status !== undefined && expect.status !== status) out.push(`expected status ${expect.status}, got ${status}`);
  if (expect.reason !== undefined && expect.reason !== d.reason) out.push(`expected reason ${expect.reason}, got ${d.reason}`);
  for (const [name, want] of Object.entries(expect.headers ?? {})) {
    // A deny sets no identity header (it clears each one).
    const got = d.kind === 'allow' ? (d.identity.find((h) => h.name === name.toLowerCase())?.value ?? '') : '';
    if (got !== want) out.push(`expected header ${name} ${want === '' ? 'absent' : JSON.stringify(want)}, got ${got === '' ? 'absent' : JSON.stringify(got)}`);
  }
  return out;
}

function describe(d: Decision): string {
  return d.kind === 'allow'
    ? `allow 200 ${d.reason}${d.rule !== undefined ? `, rule ${d.rule}` : ''}`
    : `deny ${d.status} ${d.reason}: ${d.message}`;
}
