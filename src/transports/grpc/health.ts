/**
 * grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md), after grpc-node's
 * grpc-health-check: "" (the server) and the Authorization service are SERVING once Readiness says so, else
 * NOT_SERVING. Check of an unknown service fails NOT_FOUND; Watch of one answers SERVICE_UNKNOWN and stays open.
 */
import {
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Readiness } from '../../core/types.ts';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export const HEALTH_SERVICES: readonly string[] = ['', 'envoy.service.auth.v3.Authorization'];

interface HealthRequest {
  readonly service?: string | null;
}

interface HealthResponse {
  readonly status: ServingStatus;
}

export interface HealthService {
  readonly implementation: UntypedServiceImplementation;
  /** Every status becomes NOT_SERVING for good; open Watch streams get that and are ended so a drain can finish. */
  shutdown(): void;
}

export function createHealthService(readiness: Readiness): HealthService {
  let stopped = false;
  const watches = new Set<() => void>();
  const known = new Set(HEALTH_SERVICES);

  const current = (): 'SERVING' | 'NOT_SERVING' => {
    if (stopped) return 'NOT_SERVING';
    try {
      return readiness.isReady() ? 'SERVING' : 'NOT_SERVING';
    } catch {
      return 'NOT_SERVING';
    }
  };

  const implementation: UntypedServiceImplementation = {
    Check(call: ServerUnaryCall<HealthRequest, HealthResponse>, callback: sendUnaryData<HealthResponse>): void {
      const service = call.request.service ?? '';
      if (known.has(service)) callback(null, { status: current() });
      else callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service ${JSON.stringify(service)}` });
    },

    Watch(call: ServerWritableStream<HealthRequest, HealthResponse>): void {
      const service = call.request.service ?? '';
      let last: ServingStatus = known.has(service) ? current() : 'SERVICE_UNKNOWN';
      let open = true;
      const send = (): void => {
        if (!open) return;
        const now = current();
        if (now === last) return;
        last = now;
        call.write({ status: now });
      };
      const unsubscribe = known.has(service) ? readiness.onChange(send) : () => {};
      const finish = (): void => {
        if (!open) return;
        open = false;
        watches.delete(end);
        unsubscribe();
      };
      const end = (): void => {
        if (!open) return;
        if (last !== 'SERVICE_UNKNOWN') send();
        finish();
        call.end();
      };
      watches.add(end);
      call.on('cancelled', finish);
      call.on('close', finish);
      call.write({ status: last });
    },

    List(_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<{ statuses: Record<string, HealthResponse> }>): void {
      const status = current();
      callback(null, { statuses: Object.fromEntries(HEALTH_SERVICES.map((service) => [service, { status }])) });
    },
  };

  return {
    implementation,
    shutdown(): void {
      stopped = true;
      for (const end of [...watches]) end();
    },
  };
}
