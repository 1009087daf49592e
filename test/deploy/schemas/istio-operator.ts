/**
 * install.istio.io/v1alpha1 IstioOperator `spec`, STRICT (every object closed), for the part our manifests use:
 * meshConfig.extensionProviders[].envoyExtAuthzGrpc. The @kubernetes-models/istio package validates only the
 * type meta and metadata of an IstioOperator (Istio's CRD keeps `spec` as x-kubernetes-preserve-unknown-fields),
 * so this schema was written here from Istio's own API, read at istio/api commit b8f8791 (2026-07-21):
 *   mesh/v1alpha1/config.proto  MeshConfig.extension_providers (57) → ExtensionProvider { name = 1;
 *     oneof provider { envoy_ext_authz_http = 2; envoy_ext_authz_grpc = 3; … } } →
 *     EnvoyExternalAuthorizationGrpcProvider { string service = 1; uint32 port = 2; bool fail_open = 3;
 *     string status_on_error = 4; google.protobuf.Duration timeout = 5;
 *     EnvoyExternalAuthorizationRequestBody include_request_body_in_check = 6; bool clear_route_cache = 7; }
 *     EnvoyExternalAuthorizationRequestBody { uint32 max_request_bytes = 1; bool allow_partial_message = 2;
 *     bool pack_as_bytes = 3; }
 * Field names are the proto3 JSON names (lowerCamelCase), as Istio documents them. Anything else in `spec` is
 * REFUSED as unknown: extend the schema from the same proto before using it.
 */
const DURATION = { type: 'string', pattern: '^[0-9]+(\\.[0-9]{1,9})?s$' }; // google.protobuf.Duration in JSON
const UINT32 = { type: 'integer', minimum: 0, maximum: 4_294_967_295 };

const grpcProvider = {
  type: 'object',
  additionalProperties: false,
  required: ['service', 'port'],
  properties: {
    service: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    timeout: DURATION,
    failOpen: { type: 'boolean' },
    clearRouteCache: { type: 'boolean' },
    statusOnError: { type: 'string', pattern: '^[1-5][0-9]{2}$' },
    includeRequestBodyInCheck: {
      type: 'object',
      additionalProperties: false,
      properties: { maxRequestBytes: UINT32, allowPartialMessage: { type: 'boolean' }, packAsBytes: { type: 'boolean' } },
    },
  },
};

export const istioOperatorSpec = {
  type: 'object',
  additionalProperties: false,
  required: ['meshConfig'],
  properties: {
    profile: { type: 'string' },
    meshConfig: {
      type: 'object',
      additionalProperties: false,
      required: ['extensionProviders'],
      properties: {
        extensionProviders: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'envoyExtAuthzGrpc'], // the provider oneof: this subset knows the gRPC one only
            properties: { name: { type: 'string', minLength: 1 }, envoyExtAuthzGrpc: grpcProvider },
          },
        },
      },
    },
  },
} as const;
