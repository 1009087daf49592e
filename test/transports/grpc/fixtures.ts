import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/transports/grpc/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../../support/envoy-client.ts';
/** Stubs for the gRPC transport tests: an Authorizer that records and answers as told, a Readiness we flip by hand. */
import type { Allow, AuthRequest, Authorizer, Decision, Deny, Readiness } from '../../../src/core/types.ts';
import { Reasons } from '../../../src/core/reasons.ts';

export interface StubAuthorizer extends Authorizer {
  readonly requests: AuthRequest[];
  /** What the next checks answer: a Decision, or a function (which may throw or reject). */
  answer: Decision | ((request: AuthRequest) => Decision | Promise<Decision>);
  last(): AuthRequest;
}

export function stubAuthorizer(answer: StubAuthorizer['answer'] = allow()): StubAuthorizer {
  const stub: StubAuthorizer = {
    requests: [],
    answer,
    async check(request) {
      stub.requests.push(request);
      return typeof stub.answer === 'function' ? stub.answer(request) : stub.answer;
    },
    last() {
      const request = stub.requests.at(-1);
      if (request === undefined) throw new Error('the authorizer was not called');
      return request;
    },
  };
  return stub;
}

export interface StubReadiness extends Readiness {
  set(ready: boolean): void;
  listeners(): number;
}

export function stubReadiness(ready = true): StubReadiness {
  let state = ready;
  const listeners = new Set<() => void>();
  return {
    isReady: () => state,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(next) {
      state = next;
      for (const listener of [...listeners]) listener();
    },
    listeners: () => listeners.size,
  };
}

export function allow(overrides: Partial<Allow> = {}): Allow {
  return { kind: 'allow', reason: Reasons.tokenValid, identity: [], ...overrides };
}

export function deny(status: Deny['status'], overrides: Partial<Deny> = {}): Deny {
  return {
    kind: 'deny',
    status,
    reason: status === 503 ? Reasons.keysUnavailable : status === 403 ? Reasons.originalRequestMissing : Reasons.tokenMissing,
    message: 'denied',
    headers: [['content-type', 'application/json']],
    body: JSON.stringify({ error: 'denied', status }),
    identity: [],
    ...overrides,
  };
}

/** Resolves once `predicate` holds for something `subscribe` delivered, or rejects after `ms`. */
export function waitFor<T>(subscribe: (push: (item: T) => void) => void, predicate: (items: T[]) => boolean, ms = 3000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(items)}`)), ms);
    subscribe((item) => {
      items.push(item);
      if (predicate(items)) {
        clearTimeout(timer);
        resolve(items);
      }
    });
  });
}

/**
 * A real gRPC server on port 0 answering with `authorizer`, and a client built from Envoy's upstream protos,
 * started and stopped around the calling test file; recorded requests and errors are cleared before each test.
 */
export function useStubServer(authorizer: StubAuthorizer): { readonly client: EnvoyClient; readonly errors: unknown[]; readonly server: GrpcServerHandle } {
  const state = { errors: [] as unknown[] } as { client: EnvoyClient; errors: unknown[]; server: GrpcServerHandle };
  beforeAll(async () => {
    state.server = await startGrpcServer('127.0.0.1:0', authorizer, stubReadiness(), { onError: (e) => state.errors.push(e) });
    state.client = connectEnvoyClient(state.server.address);
  });
  afterAll(async () => {
    state.client.close();
    await state.server.close();
  });
  beforeEach(() => {
    authorizer.requests.length = 0;
    state.errors.length = 0;
  });
  return state;
}
