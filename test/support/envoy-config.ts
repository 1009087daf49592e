/**
 * Strict validation of Envoy configs (YAML/JSON bootstraps) against Envoy's own protos: the copies
 * @grpc/grpc-js-xds ships (deps/envoy-api, xds, googleapis, protoc-gen-validate), the same include dirs
 * test/support/envoy-client.ts loads, read with protobufjs (the parser @grpc/proto-loader uses).
 *
 * It applies the proto3 JSON mapping the way Envoy's own parser does, and refuses what Envoy refuses:
 * - a field the message does not have (by proto name or lowerCamelCase JSON name), at any depth;
 * - a value of the wrong type (object for a message, array for repeated, the scalar's JSON form, an enum name or
 *   number, google.protobuf.Duration as "1.5s", wrappers as their scalar, …);
 * - two members of one oneof;
 * - a google.protobuf.Any whose "@type" names no known message; otherwise its fields are validated as that message
 *   (recursively: typed_config inside typed_config), and the proto files of the named package are loaded on demand.
 * - the protoc-gen-validate rules Envoy enforces at load that matter most for hand-written configs: a oneof marked
 *   `(validate.required)` with no member set, `message.required`, `string.min_len` (an absent string is ""),
 *   `repeated.min_items`, and the bounds of integer fields (`lt`, `lte`, `gt`, `gte`).
 * Not checked: the other validate rules (patterns, durations' bounds, …) and deprecation;
 * `envoy --mode validate -c file` with your Envoy version remains the final word.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { UPSTREAM_INCLUDE_DIRS } from './envoy-client.ts';

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => {
  if (target.startsWith('google/protobuf/')) return target; // protobufjs's bundled well-known types
  for (const dir of UPSTREAM_INCLUDE_DIRS) if (existsSync(join(dir, target))) return join(dir, target);
  return target;
};
root.loadSync('envoy/config/bootstrap/v3/bootstrap.proto', { keepCase: true });
root.resolveAll();

/** The message type named by an Any's type URL, loading the proto files of its package when not yet known. */
function messageType(fullName: string): protobuf.Type | undefined {
  const find = () => {
    try {
      return root.lookupType(fullName);
    } catch {
      return undefined;
    }
  };
  const known = find();
  if (known !== undefined) return known;
  const packageDir = fullName.split('.').slice(0, -1).join('/');
  for (const dir of UPSTREAM_INCLUDE_DIRS) {
    if (!existsSync(join(dir, packageDir))) continue;
    for (const file of readdirSync(join(dir, packageDir)).filter((f) => f.endsWith('.proto'))) root.loadSync(`${packageDir}/${file}`, { keepCase: true });
  }
  root.resolveAll();
  return find();
}

const INT32 = ['int32', 'sint32', 'sfixed32'];
const UINT32 = ['uint32', 'fixed32'];
const INT64 = ['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64'];
const FLOAT = ['double', 'float'];
const WRAPPERS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double', 'google.protobuf.FloatValue': 'float', 'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64', 'google.protobuf.Int32Value': 'int32', 'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool', 'google.protobuf.StringValue': 'string', 'google.protobuf.BytesValue': 'bytes',
};
const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const shown = (v: unknown) => JSON.stringify(v);

function scalarProblem(type: string, v: unknown): string | null {
  const isIntText = typeof v === 'string' && /^-?\d+$/.test(v);
  if (type === 'string') return typeof v === 'string' ? null : `must be a string, got ${shown(v)}`;
  if (type === 'bool') return typeof v === 'boolean' ? null : `must be true or false, got ${shown(v)}`;
  if (type === 'bytes') return typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v) ? null : `must be base64 text, got ${shown(v)}`;
  if (FLOAT.includes(type)) return typeof v === 'number' || (typeof v === 'string' && /^(NaN|-?Infinity|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(v)) ? null : `must be a number, got ${shown(v)}`;
  const n = typeof v === 'number' ? v : isIntText ? Number(v) : NaN;
  if (!Number.isInteger(n)) return `must be an integer (${type}), got ${shown(v)}`;
  if (INT32.includes(type) && (n < -(2 ** 31) || n >= 2 ** 31)) return `is out of range for ${type}`;
  if (UINT32.includes(type) && (n < 0 || n >= 2 ** 32)) return `is out of range for ${type}`;
  if (type.startsWith('u') || type.startsWith('fixed')) return n >= 0 ? null : `must not be negative (${type})`;
  return INT64.includes(type) || INT32.includes(type) || UINT32.includes(type) ? null : `has unknown type ${type}`;
}

function checkMessage(type: protobuf.Type, v: unknown, path: string, problems: string[], skip: readonly string[] = []): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return void problems.push(`${path}: must be an object (${type.fullName.slice(1)}), got ${shown(v)}`);
  const setOneofs = new Map<string, string>();
  for (const [key, value] of Object.entries(v)) {
    if (skip.includes(key)) continue;
    const field = type.fields[key] ?? Object.values(type.fields).find((f) => camel(f.name) === key);
    if (field === undefined) {
      problems.push(`${path}.${key}: unknown field of ${type.fullName.slice(1)}`);
      continue;
    }
    if (value === null) continue; // proto3 JSON: null is the default value
    if (field.partOf !== null && field.partOf !== undefined) {
      const other = setOneofs.get(field.partOf.name);
      if (other !== undefined) problems.push(`${path}.${key}: oneof ${field.partOf.name} already set by ${other}`);
      setOneofs.set(field.partOf.name, key);
    }
    checkField(field, value, `${path}.${key}`, problems);
  }
  checkRules(type, v as Record<string, unknown>, path, problems, skip);
}

/** The protoc-gen-validate rules listed in the header, as protobufjs exposes them in field and oneof options. */
function checkRules(type: protobuf.Type, v: Record<string, unknown>, path: string, problems: string[], skip: readonly string[]): void {
  const valueOf = (f: protobuf.Field) => {
    const key = [f.name, camel(f.name)].find((k) => !skip.includes(k) && v[k] !== undefined && v[k] !== null);
    return key === undefined ? undefined : v[key];
  };
  for (const oneof of Object.values(type.oneofs ?? {})) {
    if (oneof.options?.['(validate.required)'] === true && oneof.fieldsArray.every((f) => valueOf(f) === undefined)) {
      problems.push(`${path}: one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} is required`);
    }
  }
  for (const field of type.fieldsArray) {
    const rule = (name: string) => field.options?.[`(validate.rules).${name}`] as unknown;
    const value = valueOf(field);
    if (value === undefined) {
      if (field.partOf) continue; // an unset oneof member: only the set one is validated
      if (rule('message.required') === true) problems.push(`${path}.${field.name}: required`);
      if (Number(rule('string.min_len') ?? 0) > 0) problems.push(`${path}.${field.name}: required (a non-empty string)`);
      if (Number(rule('repeated.min_items') ?? 0) > 0) problems.push(`${path}.${field.name}: required (at least ${String(rule('repeated.min_items'))} item)`);
      continue;
    }
    const minLen = rule('string.min_len');
    if (typeof value === 'string' && minLen !== undefined && [...value].length < Number(minLen)) problems.push(`${path}.${field.name}: must be at least ${String(minLen)} characters`);
    const minItems = rule('repeated.min_items');
    if (Array.isArray(value) && minItems !== undefined && value.length < Number(minItems)) problems.push(`${path}.${field.name}: must have at least ${String(minItems)} items`);
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : undefined;
    if (n === undefined || field.resolvedType !== null) continue;
    const bound = (op: string) => rule(`${field.type}.${op}`) as number | undefined;
    const [lt, lte, gt, gte] = ['lt', 'lte', 'gt', 'gte'].map(bound);
    if ((lt !== undefined && !(n < lt)) || (lte !== undefined && !(n <= lte)) || (gt !== undefined && !(n > gt)) || (gte !== undefined && !(n >= gte))) {
      const bounds = [gt !== undefined && `> ${gt}`, gte !== undefined && `>= ${gte}`, lt !== undefined && `< ${lt}`, lte !== undefined && `<= ${lte}`].filter(Boolean);
      problems.push(`${path}.${field.name}: must be ${bounds.join(' and ')}, got ${n}`);
    }
  }
}

function checkField(field: protobuf.Field, v: unknown, path: string, problems: string[]): void {
  if (field instanceof protobuf.MapField) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return void problems.push(`${path}: must be a map (object), got ${shown(v)}`);
    for (const [k, value] of Object.entries(v)) {
      if (field.keyType !== 'string' && scalarProblem(field.keyType, k) !== null) problems.push(`${path}[${k}]: key ${scalarProblem(field.keyType, k)}`);
      checkValue(field, value, `${path}[${k}]`, problems);
    }
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(v)) return void problems.push(`${path}: must be a list, got ${shown(v)}`);
    return v.forEach((item, i) => checkValue(field, item, `${path}[${i}]`, problems));
  }
  checkValue(field, v, path, problems);
}

function checkValue(field: protobuf.Field, v: unknown, path: string, problems: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    const ok = typeof v === 'string' ? v in resolved.values : Number.isInteger(v) && Object.values(resolved.values).includes(v as number);
    const names = Object.keys(resolved.values);
    if (!ok) problems.push(`${path}: must be a ${resolved.name} (${names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ')}), got ${shown(v)}`);
    return;
  }
  if (resolved instanceof protobuf.Type) return checkTyped(resolved, v, path, problems);
  const problem = scalarProblem(field.type, v);
  if (problem !== null) problems.push(`${path}: ${problem}`);
}

/** A message value, with the special JSON forms of the well-known types. */
function checkTyped(type: protobuf.Type, v: unknown, path: string, problems: string[]): void {
  const name = type.fullName.slice(1);
  const wrapped = WRAPPERS[name];
  if (wrapped !== undefined) {
    const problem = scalarProblem(wrapped, v);
    if (problem !== null) problems.push(`${path}: ${problem}`);
  } else if (name === 'google.protobuf.Duration') {
    if (typeof v !== 'string' || !/^-?\d+(\.\d{1,9})?s$/.test(v)) problems.push(`${path}: must be a duration like "0.25s", got ${shown(v)}`);
  } else if (name === 'google.protobuf.Timestamp') {
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) problems.push(`${path}: must be an RFC 3339 timestamp, got ${shown(v)}`);
  } else if (name === 'google.protobuf.FieldMask') {
    if (typeof v !== 'string') problems.push(`${path}: must be a string, got ${shown(v)}`);
  } else if (name === 'google.protobuf.Struct') {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) problems.push(`${path}: must be an object, got ${shown(v)}`);
  } else if (name === 'google.protobuf.ListValue') {
    if (!Array.isArray(v)) problems.push(`${path}: must be a list, got ${shown(v)}`);
  } else if (name === 'google.protobuf.Value') {
    // any JSON value
  } else if (name === 'google.protobuf.Any') {
    checkAny(v, path, problems);
  } else {
    checkMessage(type, v, path, problems);
  }
}

function checkAny(v: unknown, path: string, problems: string[]): void {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return void problems.push(`${path}: must be an object with "@type", got ${shown(v)}`);
  const url = (v as Record<string, unknown>)['@type'];
  const m = typeof url === 'string' ? url.match(/^(?:[^/]+\/)*([A-Za-z_][\w.]*)$/) : null;
  if (m === null) return void problems.push(`${path}: "@type" must be a type URL, got ${shown(url)}`);
  const type = messageType(m[1]!);
  if (type === undefined) return void problems.push(`${path}: "@type" ${url} names no message in Envoy's protos`);
  const special = WRAPPERS[type.fullName.slice(1)] !== undefined || /^google\.protobuf\.(Duration|Timestamp|FieldMask|Struct|ListValue|Value)$/.test(type.fullName.slice(1));
  const at = `${path}(${type.name})`;
  if (special) {
    for (const key of Object.keys(v)) if (key !== '@type' && key !== 'value') problems.push(`${at}.${key}: unknown field (a ${type.name} in an Any has only "value")`);
    checkTyped(type, (v as Record<string, unknown>).value, `${at}.value`, problems);
  } else {
    checkMessage(type, v, at, problems, ['@type']);
  }
}

/** Every problem of an Envoy bootstrap (parsed YAML/JSON); [] when valid. */
export function envoyBootstrapProblems(config: unknown): string[] {
  const problems: string[] = [];
  checkMessage(root.lookupType(BOOTSTRAP), config, 'bootstrap', problems);
  return problems;
}
