/**
 * A stand-in for Envoy's ext_authz gRPC client and for a gRPC health checker, built from Envoy's UPSTREAM protos
 * (the copies @grpc/grpc-js-xds ships), not from our proto/ copies: a round trip through this client proves our
 * definitions are wire-compatible with what Envoy sends and parses.
 */
import { fileURLToPath } from 'node:url';
import { credentials, makeClientConstructor, type ChannelOptions, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { fromJSON, loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

const DEPS = fileURLToPath(new URL('../../node_modules/@grpc/grpc-js-xds/deps/', import.meta.url));

export const UPSTREAM_INCLUDE_DIRS = ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((dir) => DEPS + dir);

const CLIENT_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

export const upstreamDefinitions: PackageDefinition = loadSync('envoy/service/auth/v3/external_auth.proto', {
  ...CLIENT_OPTIONS,
  includeDirs: UPSTREAM_INCLUDE_DIRS,
});

/**
 * grpc/health/v1/health.proto as published in grpc/grpc-proto. No upstream copy ships in node_modules, so the
 * canonical definition is written out here, independent of proto/grpc/health/v1/health.proto.
 */
const HEALTH_JSON = {
  nested: {
    grpc: { nested: { health: { nested: { v1: { nested: {
      HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
      HealthCheckResponse: {
        fields: { status: { type: 'ServingStatus', id: 1 } },
        nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
      },
      HealthListRequest: { fields: {} },
      HealthListResponse: { fields: { statuses: { keyType: 'string', type: 'HealthCheckResponse', id: 1 } } },
      Health: {
        methods: {
          Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
          Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true },
          List: { requestType: 'HealthListRequest', responseType: 'HealthListResponse' },
        },
      },
    } } } } } },
  },
};
export const upstreamHealth: PackageDefinition = fromJSON(HEALTH_JSON as unknown as Parameters<typeof fromJSON>[0], CLIENT_OPTIONS);

type Callback = (error: ServiceError | null, response: any) => void;
type UnaryMethod = (request: object, options: { deadline: number }, callback: Callback) => void;
interface AuthorizationClient extends Client {
  Check: UnaryMethod;
}
interface HealthClient extends Client {
  Check: UnaryMethod;
  List: UnaryMethod;
  Watch(request: object): ClientReadableStream<any>;
}

const AuthorizationClientCtor = makeClientConstructor(
  upstreamDefinitions['envoy.service.auth.v3.Authorization'] as any,
  'envoy.service.auth.v3.Authorization',
);
const HealthClientCtor = makeClientConstructor(upstreamHealth['grpc.health.v1.Health'] as any, 'grpc.health.v1.Health');

export interface EnvoyClient {
  /** Authorization/Check with a CheckRequest object in upstream field names (snake_case); resolves the decoded CheckResponse. */
  check(request: object): Promise<any>;
  healthCheck(service: string): Promise<{ status: string }>;
  healthList(): Promise<{ statuses: Record<string, { status: string }> }>;
  watch(service: string): ClientReadableStream<{ status: string }>;
  close(): void;
}

/** `channelOptions`: grpc-js client options, e.g. `grpc.default_compression_algorithm`. */
export function connectEnvoyClient(address: string, timeoutMs = 5000, channelOptions: ChannelOptions = {}): EnvoyClient {
  const auth = new AuthorizationClientCtor(address, credentials.createInsecure(), channelOptions) as unknown as AuthorizationClient;
  const health = new HealthClientCtor(address, credentials.createInsecure(), channelOptions) as unknown as HealthClient;
  const unary = (method: UnaryMethod, client: Client, request: object): Promise<any> =>
    new Promise((resolve, reject) => {
      method.call(client, request, { deadline: Date.now() + timeoutMs }, (error, response) => (error ? reject(error) : resolve(response)));
    });
  return {
    check: (request) => unary(auth.Check, auth, request),
    healthCheck: (service) => unary(health.Check, health, { service }),
    healthList: () => unary(health.List, health, {}),
    watch: (service) => health.Watch({ service }),
    close() {
      auth.close();
      health.close();
    },
  };
}

/** google.protobuf.Struct as decoded with these options → plain JS, written independently of src/transports/grpc/struct.ts. */
export function structToJs(struct: { fields?: Record<string, unknown> } | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJs(value);
  return out;
}

function valueToJs(value: any): unknown {
  switch (value?.kind) {
    case 'nullValue':
      return null;
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    case 'structValue':
      return structToJs(value.structValue);
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJs);
    default:
      throw new Error(`Value without a kind: ${JSON.stringify(value)}`);
  }
}
