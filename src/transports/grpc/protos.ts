/**
 * The @grpc/proto-loader package definition of our ext_authz and health protos (the files, directory and options of
 * codecs.ts), for what wants a grpc-js ServiceDefinition or message descriptors: bench/ floors, conformance tests.
 * The server itself runs with codecs.ts and never loads this.
 */
import { loadSync } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { LOADER_OPTIONS, PROTO_DIR, PROTO_FILES } from './codecs.ts';

export { LOADER_OPTIONS, PROTO_DIR, PROTO_FILES } from './codecs.ts';

const definitions = loadSync(PROTO_FILES, LOADER_OPTIONS);

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
