/**
 * gateway.envoyproxy.io/v1alpha1 SecurityPolicy `spec`, as a STRICT JSON schema (every object closed with
 * additionalProperties: false), for the part of the API our manifests use: targetRefs / targetRef and extAuth over
 * gRPC. No maintained npm package ships Envoy Gateway's schemas, so this was written here from Envoy Gateway's own
 * API types and the CRD generated from them, read at envoyproxy/gateway commit d32f282 (2026-08-21):
 *   api/v1alpha1/securitypolicy_types.go  (SecurityPolicySpec: PolicyTargetReferences inline, extAuth, …)
 *   api/v1alpha1/ext_auth_types.go        (ExtAuth, GRPCExtAuthService, ContextExtension, BodyToExtAuth)
 *   api/v1alpha1/shared_types.go          (BackendCluster, BackendRef = gwapiv1.BackendObjectReference + weight)
 *   charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml (patterns, bounds)
 * The CEL rules of those types that matter here are written as JSON schema (one of grpc/http; backendRefs kinds
 * and groups). Fields outside this subset (jwt, oidc, basicAuth, extAuth.http, backendSettings, …) are REFUSED as
 * unknown: extend the schema from the same files before using them.
 */
const DNS_SUBDOMAIN = '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const KIND = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$' };
const NAME = { type: 'string', minLength: 1, maxLength: 253 };

/** gwapiv1.LocalPolicyTargetReferenceWithSectionName */
const targetRef = {
  type: 'object',
  additionalProperties: false,
  required: ['group', 'kind', 'name'],
  properties: {
    group: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
    kind: KIND,
    name: NAME,
    sectionName: { type: 'string', minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN.slice(4) },
  },
};

/** BackendRef: gwapiv1.BackendObjectReference inline + weight + fallback. */
const backendRef = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    group: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN, enum: ['', 'multicluster.x-k8s.io', 'gateway.envoyproxy.io'] },
    kind: { ...KIND, enum: ['Service', 'ServiceImport', 'Backend'] },
    name: NAME,
    namespace: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    weight: { type: 'integer', minimum: 0, maximum: 1_000_000 },
    fallback: { type: 'boolean' },
  },
};

const STATUS_ON_ERROR = [400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511];

const extAuth = {
  type: 'object',
  additionalProperties: false,
  // "one of grpc or http must be specified"; extAuth.http is outside this subset, so grpc it is.
  required: ['grpc'],
  properties: {
    grpc: {
      type: 'object',
      additionalProperties: false,
      // "backendRef or backendRefs needs to be set" (backendRef is deprecated: not in this subset)
      required: ['backendRefs'],
      properties: { backendRefs: { type: 'array', minItems: 1, maxItems: 16, items: backendRef } },
    },
    headersToExtAuth: { type: 'array', items: { type: 'string' } },
    bodyToExtAuth: {
      type: 'object',
      additionalProperties: false,
      required: ['maxRequestBytes'],
      properties: { maxRequestBytes: { type: 'integer', minimum: 1, maximum: 4_294_967_295 } },
    },
    timeout: { type: 'string', pattern: '^([0-9]{1,5}(h|m|s|ms)){1,4}$' },
    failOpen: { type: 'boolean' },
    recomputeRoute: { type: 'boolean' },
    includeRouteMetadata: { type: 'boolean' },
    contextExtensions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'type', 'value'],
        properties: { name: { type: 'string' }, type: { const: 'Value' }, value: { type: 'string' } },
      },
    },
    statusOnError: { type: 'integer', enum: STATUS_ON_ERROR },
  },
};

export const securityPolicySpec = {
  type: 'object',
  additionalProperties: false,
  required: ['extAuth'],
  anyOf: [{ required: ['targetRefs'] }, { required: ['targetRef'] }],
  properties: {
    targetRef: targetRef,
    targetRefs: { type: 'array', minItems: 1, items: targetRef },
    extAuth,
  },
} as const;
