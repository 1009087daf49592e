/**
 * The JSON Schema of the config (`portcullis schema`) is generated from the kit parsers that validate a start: every
 * key has a description, defaults are written as YAML would write them, unknown keys are refused at every depth, and
 * the schema and the loader agree on what one key at a time can say.
 */
import { describe, expect, it } from 'vitest';
import Ajv2020Module from 'ajv/dist/2020.js';
import { configJsonSchema, jsonSchemaOf } from '../../src/config/json-schema.ts';
import { object, req, string, type Parser } from '../../src/config/kit.ts';
import { configProblems } from '../support/config.ts';

// ajv is CommonJS: under Node's ESM interop its class is the module's default export, or that export's `default`.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

type Schema = Record<string, unknown>;
const schema = configJsonSchema() as Schema;
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false }); // oneOf [{ required: [dir] }, …] names keys defined beside it
const validate = ajv.compile(schema);

/** Every `properties` entry anywhere in the schema (root and $defs), with the key path it stands for. */
function properties(node: unknown, path: string, out: [string, Schema][] = []): [string, Schema][] {
  if (Array.isArray(node)) node.forEach((n) => properties(n, path, out));
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties') {
        for (const [name, prop] of Object.entries(v as Record<string, Schema>)) {
          const at = path === '' ? name : `${path}.${name}`;
          out.push([at, prop]);
          properties(prop, at, out);
        }
      } else if (k === 'items') properties(v, `${path}[]`, out);
      else if (k === 'additionalProperties') properties(v, `${path}.*`, out);
      else if (k === '$defs') for (const [name, def] of Object.entries(v as Record<string, unknown>)) properties(def, `$defs.${name}`, out);
      else properties(v, path, out);
    }
  }
  return out;
}

const ISSUER = { issuer: 'https://idp.test/', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, audiences: ['api'] };

describe('portcullis schema (src/config/json-schema.ts)', () => {
  it('is a draft 2020-12 schema that ajv compiles in strict mode', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(typeof validate).toBe('function');
  });

  it('gives every key a description (a new key needs one: write it where the key is defined, in src/config/)', () => {
    const all = properties(schema, '');
    expect(all.length).toBeGreaterThan(100);
    const missing = all.filter(([, p]) => typeof p.description !== 'string' || p.description === '').map(([at]) => at);
    expect(missing, `keys without a description (add one as the last argument of req/opt/def/section): ${missing.join(', ')}`).toEqual([]);
  });

  it('writes defaults as the YAML would: durations as text, lists and mappings as they are', () => {
    const at = (path: string) => properties(schema, '').find(([p]) => p === path)?.[1];
    expect(at('jwks.refresh_interval')?.default).toBe('5m');
    expect(at('jwks.max_stale')?.default).toBe('24h');
    expect(at('replay.redis.timeout')?.default).toBe('50ms');
    expect(at('issuers[].leeway')?.default).toBe('1m');
    expect(at('identity_headers')?.default).toEqual({ sub: 'x-auth-subject' });
    expect(at('tokens.headers')?.default).toEqual([{ name: 'authorization', prefix: 'Bearer ' }]);
    expect(at('listen')).not.toHaveProperty('default'); // a section's default is its keys' defaults
  });

  it('accepts every default it states, under the schema of its own key', () => {
    const defaults = properties(schema, '').filter(([, p]) => 'default' in p);
    expect(defaults.length).toBeGreaterThan(40);
    for (const [at, p] of defaults) {
      const { default: value, ...rest } = p;
      expect(ajv.validate({ ...rest, $defs: schema.$defs }, value), `${at}: default ${JSON.stringify(value)}`).toBe(true);
    }
  });

  // Each document: what the loader says (valid or the problem path) must be what the schema says.
  it.each<[string, unknown, string | null]>([
    ['a minimal config', { issuers: [ISSUER] }, null],
    ['empty sections', { issuers: [ISSUER], cache: null, listen: {} }, null],
    ['a typo at the top', { issuers: [ISSUER], identity_header: {} }, 'identity_header'],
    ['a typo deep in a rule', { issuers: [ISSUER], routes: [{ match: { path: ['/a'] } }] }, 'routes[0].match.path'],
    ['a typo in a nested requirement', { issuers: [ISSUER], routes: [{ require: { any: [{ scope: ['a'] }] } }] }, 'routes[0].require.any[0].scope'],
    ['a number for a duration', { issuers: [ISSUER], jwks: { timeout: 5 } }, 'jwks.timeout'],
    ['a bad enum', { issuers: [ISSUER], telemetry: { log_level: 'loud' } }, 'telemetry.log_level'],
    ['an integer out of range', { issuers: [ISSUER], tokens: { max_bytes: 10 } }, 'tokens.max_bytes'],
    ['a condition with two operators', { issuers: [ISSUER], policies: { p: { require: { claims: { g: { equals: 1, contains: 2 } } } } } }, 'policies.p.require.claims.g'],
    ['present: false', { issuers: [ISSUER], policies: { p: { require: { claims: { g: { present: false } } } } } }, 'policies.p.require.claims.g.present'],
    ['a missing required key', { issuers: [{ issuer: 'https://idp.test/', jwks: ISSUER.jwks }] }, 'issuers[0].audiences'],
    ['signer keys with neither dir nor generate', { signer: { issuer: 'https://s.test', keys: {} } }, 'signer.keys'],
    ['login: false on a rule', { issuers: [ISSUER], routes: [{ login: false }] }, null],
    ['sign: true on a policy', { signer: { issuer: 'https://s.test', keys: { generate: {} } }, workers: 1, policies: { out: { sign: true } } }, null],
    ['log_allows as a share', { issuers: [ISSUER], telemetry: { log_allows: 0.5 } }, null],
    ['log_allows above 1', { issuers: [ISSUER], telemetry: { log_allows: 2 } }, 'telemetry.log_allows'],
  ])('%s: the loader and the schema agree', (_, doc, problemPath) => {
    const problems = configProblems(doc);
    const valid = validate(doc);
    if (problemPath === null) {
      expect(problems).toEqual([]);
      expect(validate.errors ?? []).toEqual([]);
    } else {
      expect(problems.some((p) => p.startsWith(`${problemPath}:`)), problems.join('\n')).toBe(true);
      expect(valid).toBe(false);
    }
  });

  it('refuses to emit a schema for a parser that has none, naming its key path', () => {
    const handWritten: Parser<string> = (v) => String(v);
    expect(() => jsonSchemaOf(object({ outer: req(object({ inner: req(handWritten) })) }))).toThrow(/the parser of outer\.inner has no JSON Schema/);
    expect(jsonSchemaOf(object({ name: req(string(), 'a name') }))).toMatchObject({ properties: { name: { type: 'string', description: 'a name' } }, required: ['name'], additionalProperties: false });
  });
});
