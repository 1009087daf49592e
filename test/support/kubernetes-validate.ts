/**
 * Validates Kubernetes manifests (every document of a YAML file) against the Kubernetes API schemas, strictly:
 *
 * - Built-in kinds with `kubernetes-models`, Istio kinds with `@kubernetes-models/istio`, Gateway API kinds with
 *   `@kubernetes-models/gateway-api`: each model's own `validate()` (wrong types, enums, required fields).
 * - Those schemas, like the API server's OpenAPI, do not close objects, so a misspelt field would pass. The API
 *   server refuses unknown fields (kubectl's default --validate=strict), and so does this: the model is validated
 *   through a Proxy that records which properties the package's validator reads (it reads every property its
 *   schema defines, and enumerates the keys of maps); any property it never read is an unknown field.
 * - Kinds (or parts) no package covers get a strict JSON schema written here from the project's own API types,
 *   run with ajv (already in node_modules as @kubernetes-models/validate's engine): test/deploy/schemas/.
 * - A kind with no validator at all is a problem, so nothing passes unvalidated.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvModule, { type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { istioOperatorSpec } from '../deploy/schemas/istio-operator.ts';
import { securityPolicySpec } from '../deploy/schemas/security-policy.ts';
import { REPO_ROOT } from './dockerfile.ts';

interface Model {
  validate(): void;
}
type ModelClass = (new (data: object) => Model) & { apiVersion: string; kind: string };

const PACKAGES = ['kubernetes-models', '@kubernetes-models/istio', '@kubernetes-models/gateway-api'] as const;

// ajv is CommonJS: under Node's ESM interop its class is the module's default export, or that export's `default`.
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as typeof AjvModule.default;
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false }); // anyOf [{ required }] names properties defined beside it

/** Parts of kinds that no package validates, as strict schemas: `${apiVersion}/${kind}` → top-level key → schema. */
const OWN_SCHEMAS: Record<string, Record<string, ValidateFunction>> = {
  'gateway.envoyproxy.io/v1alpha1/SecurityPolicy': { spec: ajv.compile(securityPolicySpec) },
  'install.istio.io/v1alpha1/IstioOperator': { spec: ajv.compile(istioOperatorSpec) },
};

async function packageModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return undefined;
  for (const pkg of PACKAGES) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(`${pkg}/${apiVersion}`)) as Record<string, unknown>;
    } catch {
      continue;
    }
    const ctor = mod[kind] as ModelClass | undefined;
    if (typeof ctor === 'function' && ctor.apiVersion === apiVersion && ctor.kind === kind) return ctor;
  }
  return undefined;
}

/** Runs `model.validate()` with `this` = a recording Proxy; returns the schema errors and the unknown fields. */
function validateStrictly(model: Model, skipTop: readonly string[]): string[] {
  const read = new WeakMap<object, Set<string>>();
  const enumerated = new WeakSet<object>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = proxies.get(value);
    if (proxy === undefined) {
      const record = (target: object, prop: string | symbol) => {
        if (typeof prop === 'string' && Object.hasOwn(target, prop)) {
          if (!read.has(target)) read.set(target, new Set());
          read.get(target)!.add(prop);
        }
      };
      proxy = new Proxy(value, {
        get(target, prop, receiver) {
          record(target, prop);
          const v = Reflect.get(target, prop, receiver);
          return typeof prop === 'string' && Object.hasOwn(target, prop) ? wrap(v) : v;
        },
        has(target, prop) {
          record(target, prop);
          return Reflect.has(target, prop);
        },
        ownKeys(target) {
          enumerated.add(target);
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };
  const problems: string[] = [];
  try {
    model.validate.call(wrap(model));
  } catch (e) {
    problems.push((e as Error).message);
  }
  const walk = (value: unknown, path: string, top: boolean): void => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${path}[${i}]`, false));
    if (value === null || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value)) {
      if (top && (skipTop.includes(key) || key === 'apiVersion' || key === 'kind')) continue;
      if (enumerated.has(value) || read.get(value)?.has(key)) walk(v, `${path}/${key}`, false);
      else problems.push(`data${path}/${key} is not a field of this API (unknown field)`);
    }
  };
  walk(model, '', true);
  return problems;
}

/** Every problem of one document; [] when it is valid. */
export async function validateManifest(doc: unknown): Promise<string[]> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return ['not an object'];
  const { apiVersion, kind } = doc as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind are required strings'];
  const own = OWN_SCHEMAS[`${apiVersion}/${kind}`] ?? {};
  const model = await packageModel(apiVersion, kind);
  const problems: string[] = [];
  if (model !== undefined) {
    problems.push(...validateStrictly(new model(doc), Object.keys(own)));
  } else if (Object.keys(own).length > 0) {
    // No package model: type meta checked by the lookup, metadata by the package's ObjectMeta, the rest by `own`.
    for (const key of Object.keys(doc)) {
      if (!['apiVersion', 'kind', 'metadata', ...Object.keys(own)].includes(key)) problems.push(`data/${key} is not a field of this API (unknown field)`);
    }
    const metadata = (doc as { metadata?: unknown }).metadata;
    if (metadata === null || typeof metadata !== 'object') problems.push('data/metadata is required');
    else problems.push(...validateStrictly(new ObjectMeta(metadata as object), []).map((p) => p.replace(/^data/, 'data/metadata')));
  } else {
    return [`no validator for ${apiVersion} ${kind}: add its schema to test/support/kubernetes-validate.ts`];
  }
  for (const [key, validate] of Object.entries(own)) {
    if (!validate((doc as Record<string, unknown>)[key])) problems.push(ajv.errorsText(validate.errors, { dataVar: `data/${key}` }));
  }
  return problems;
}

/** The documents of a (multi-document) YAML text; a YAML syntax error throws. */
export function yamlDocuments(text: string, source: string): unknown[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${source}: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as unknown;
    })
    .filter((d) => d !== null);
}

export interface Manifest {
  /** Path under deploy/kubernetes/. */
  readonly file: string;
  readonly index: number;
  readonly doc: any;
}

/** Every document of every *.yaml / *.yml under deploy/kubernetes/ (recursively), in file order. */
export function kubernetesManifests(): Manifest[] {
  const dir = join(REPO_ROOT, 'deploy/kubernetes');
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f)).sort();
  return files.flatMap((file) => yamlDocuments(readFileSync(join(dir, file), 'utf8'), file).map((doc, index) => ({ file, index, doc })));
}
