/**
 * The message codecs the gRPC server runs with: our wire-compatible copies of Envoy's ext_authz protos and gRPC's
 * health proto, loaded once at import with protobufjs itself. The google.protobuf well-known types (Struct,
 * BoolValue, Any, Timestamp) are protobufjs' bundled copies.
 *
 * Each codec is the one @grpc/proto-loader builds (decode then `toObject(LOADER_OPTIONS)`; `fromObject` then
 * encode), without the package definition around it: proto-loader also turns every message into descriptor
 * objects, which the server never reads and which cost ~3 MB of resident memory and ~30 ms at every start of every
 * worker. protos.ts builds that package definition, from the same files and options, for the tools that want one
 * (grpc-js servers in bench/, the conformance tests), and a test pins both to the same bytes and objects.
 */
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';
import type { Options } from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

export const PROTO_FILES = ['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'];

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

const root = new protobuf.Root();
// Imports resolve under PROTO_DIR, as proto-loader's includeDirs does.
root.resolvePath = (_origin, target) => {
  if (isAbsolute(target)) return target;
  const path = join(PROTO_DIR, target);
  accessSync(path, constants.R_OK);
  return path;
};
root.loadSync(PROTO_FILES, LOADER_OPTIONS);
root.resolveAll();

export interface MethodCodec {
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
}

/** `service` as its full name, `method` as written in the proto (`Check`). Throws when the proto has no such method. */
export function methodCodec(service: string, method: string): MethodCodec {
  const found = root.lookupService(service).methods[method];
  if (found === undefined) throw new Error(`${service} has no method ${method} in ${PROTO_DIR}`);
  const request = found.resolvedRequestType!;
  const response = found.resolvedResponseType!;
  return {
    requestDeserialize: (bytes) => request.toObject(request.decode(bytes), LOADER_OPTIONS),
    responseSerialize: (value) => {
      if (Array.isArray(value)) throw new Error(`Failed to serialize message: expected object with ${response.name} structure, got array instead`);
      return Buffer.from(response.encode(response.fromObject(value as Record<string, unknown>)).finish());
    },
  };
}
