/**
 * Loads our wire-compatible copies of Envoy's ext_authz protos and gRPC's health proto, once, at import.
 * The google.protobuf well-known types (Struct, BoolValue, Any, Timestamp) are protobufjs' bundled copies.
 */
import { fileURLToPath } from 'node:url';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

/**
 * keepCase: field names as on the wire (`context_extensions`, `raw_value`); the bundled Struct/Value keep their
 * own camelCase names (`stringValue`), since protobufjs ships them pre-parsed.
 * longs/enums as String: `size` (int64) never becomes a Long object; enums read and write by name.
 * defaults: absent scalars decode as '' / 0 / false and absent messages as null, so callers see one shape.
 * oneofs: decoded oneofs name their present member (`address: 'socket_address'`).
 * bytes stay Buffers (the default), which is what `raw_value` needs.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

const definitions = loadSync(
  ['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'],
  LOADER_OPTIONS,
);

function service(name: string): ServiceDefinition {
  const found = definitions[name];
  if (found === undefined || 'format' in found) throw new Error(`${name} is not a service in ${PROTO_DIR}`);
  // proto-loader's ServiceDefinition is grpc-js' ServiceDefinition with narrower method types.
  return found as unknown as ServiceDefinition;
}

/** envoy.service.auth.v3.Authorization: the one method is `Check`. */
export const authorizationService = service('envoy.service.auth.v3.Authorization');

/** grpc.health.v1.Health: `Check`, `Watch`, `List`. */
export const healthService = service('grpc.health.v1.Health');

/** Every message type we load, by full name (tests compare them with Envoy's upstream definitions). */
export const packageDefinition = definitions;
