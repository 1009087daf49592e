/**
 * grpc.health.v1.Health (https://github.com/grpc/grpc/blob/master/doc/health-checking.md), after grpc-node's
 * grpc-health-check: "" (the server) and the Authorization service are SERVING once Readiness says so, else
 * NOT_SERVING. Check of an unknown service fails NOT_FOUND; Watch of one answers SERVICE_UNKNOWN and stays open.
 * The rules only: the wire (calls.ts) asks these functions and carries their answers.
 */
import type { Readiness } from '../../core/types.ts';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export const HEALTH_SERVICES: readonly string[] = ['', 'envoy.service.auth.v3.Authorization'];

export interface HealthResponse {
  readonly status: ServingStatus;
}

/** One open Watch, as the transport drives it. */
export interface WatchSink {
  /** Sends one status message on the stream. */
  send(response: HealthResponse): void;
  /** Ends the stream with an OK status (shutdown). */
  end(): void;
}

export interface HealthService {
  /** The status of `service`, or undefined for a service we do not know (the call fails NOT_FOUND). */
  check(service: string): HealthResponse | undefined;
  /** Sends the current status at once, then each change; returns the function to call when the stream closes. */
  watch(service: string, sink: WatchSink): () => void;
  list(): { readonly statuses: Readonly<Record<string, HealthResponse>> };
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

  return {
    check(service) {
      return known.has(service) ? { status: current() } : undefined;
    },

    watch(service, sink) {
      let last: ServingStatus = known.has(service) ? current() : 'SERVICE_UNKNOWN';
      let open = true;
      const send = (): void => {
        if (!open) return;
        const now = current();
        if (now === last) return;
        last = now;
        sink.send({ status: now });
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
        sink.end();
      };
      watches.add(end);
      sink.send({ status: last });
      return finish;
    },

    list() {
      const status = current();
      return { statuses: Object.fromEntries(HEALTH_SERVICES.map((service) => [service, { status }])) };
    },

    shutdown(): void {
      stopped = true;
      for (const end of [...watches]) end();
    },
  };
}
