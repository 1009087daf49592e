/** Schema of the route-policy keys: `routes`, `policies`, `login`, `upstream`. Defaults live here. */
import { array, boolean, def, INVALID, object, oneOf, opt, record, req, section, string, type Parser } from './kit.ts';
import { patternProblem } from '../core/glob.ts';
import { identityHeaderProblem } from './identity-headers.ts';
import { signRule } from './signer-schema.ts';

type Scalar = string | number | boolean;
export type RawCondition = { equals: Scalar } | { one_of: Scalar[] } | { contains: Scalar } | { present: true };
export interface RawRequirement {
  issuers?: string[];
  audiences?: string[];
  scopes?: string[];
  claims?: Record<string, RawCondition>;
  any?: RawRequirement[];
  all?: RawRequirement[];
  /** Only directly under a rule's `require` (config/policy.ts refuses it inside any/all). */
  single_use?: boolean;
  /** Only directly under a rule's `require`, like single_use: the token must be DPoP- or certificate-bound. */
  sender_constrained?: boolean;
}
export interface RawLogin {
  url: string;
  return_hosts: string[];
}

const scalar: Parser<Scalar> = (v, path, errors) => {
  if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  errors.push(`${path}: must be a string, number or boolean`);
  return INVALID;
};

const condition: Parser<RawCondition> = (v, path, errors) => {
  const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : [];
  if (keys.length !== 1 || !['equals', 'one_of', 'contains', 'present'].includes(keys[0]!)) {
    errors.push(`${path}: must be exactly one of { equals: V }, { one_of: [V, …] }, { contains: V }, { present: true }`);
    return INVALID;
  }
  const shape = {
    equals: { equals: req(scalar) },
    one_of: { one_of: req(array(scalar, { min: 1 })) },
    contains: { contains: req(scalar) },
    present: { present: req(oneOf(['true']) as unknown as Parser<true>) },
  }[keys[0] as 'equals'];
  if (keys[0] === 'present') {
    if ((v as { present: unknown }).present !== true) {
      errors.push(`${path}.present: must be true`);
      return INVALID;
    }
    return { present: true };
  }
  return object(shape)(v, path, errors) as RawCondition | typeof INVALID;
};

const nonEmpty = string((s) => (s === '' ? 'must not be empty' : null));
const scopeToken = string((s) => (/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s) ? null : `"${s}" is not a valid scope token`));

export const requirement: Parser<RawRequirement> = (v, path, errors) =>
  object({
    issuers: opt(array(nonEmpty, { min: 1, unique: true })),
    audiences: opt(array(nonEmpty, { min: 1, unique: true })),
    scopes: opt(array(scopeToken, { min: 1, unique: true })),
    claims: opt(record(condition)),
    any: opt(array(requirement, { min: 1 })),
    all: opt(array(requirement, { min: 1 })),
    single_use: opt(boolean),
    sender_constrained: opt(boolean),
  })(v, path, errors) as RawRequirement | typeof INVALID;

export const hostPattern = string((s) =>
  /^(\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(s) ? null : `"${s}" must be a lower-case host name or *.domain`,
);

const loginUrl = string((s) => {
  let u: URL;
  try {
    u = new URL(s.replaceAll('{return_url}', 'x'));
  } catch {
    return `"${s}" is not a valid URL`;
  }
  return u.protocol === 'https:' || u.protocol === 'http:' ? null : 'must be an http(s) URL';
});

export const login = object({ url: req(loginUrl), return_hosts: def(array(hostPattern, { unique: true }), [] as string[]) });

/** `login: false` switches a global login redirect off for one rule. */
const ruleLogin: Parser<RawLogin | false> = (v, path, errors) => (v === false ? false : login(v, path, errors));

export const ruleFields = {
  require: opt(requirement),
  anonymous: def(oneOf(['required', 'optional'] as const), 'required'),
  login: opt(ruleLogin),
  identity_headers: def(record(string(identityHeaderProblem)), {} as Record<string, string>),
  sign: opt(signRule),
};

const method = string((s) => (/^[A-Z]+$/.test(s) ? null : `"${s}" must be an upper-case HTTP method`));

export const route = object({
  name: opt(nonEmpty),
  match: section({
    hosts: def(array(hostPattern, { unique: true }), [] as string[]),
    paths: def(array(string(patternProblem), { unique: true }), [] as string[]),
    methods: def(array(method, { unique: true }), [] as string[]),
  }),
  policy: opt(nonEmpty),
  ...ruleFields,
});

export const policy = object(ruleFields);

export const upstream = {
  forward_token: def(((v, p, e) => (typeof v === 'boolean' ? v : (e.push(`${p}: must be true or false`), INVALID))) as Parser<boolean>, true),
  payload_header: opt(string(identityHeaderProblem)),
};
