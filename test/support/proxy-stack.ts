/**
 * The real proxy stack of the end-to-end tests, started and stopped in one place: an authorizer (Portcullis, or a
 * bare HTTP listener with a stub), a recording upstream app, and a real Caddy or nginx in front, wired with the
 * deploy/ configs. Registers the vitest hooks itself: start before the block, stop after it (proxy first, so it
 * never sees a vanished backend), forget recorded requests before each test.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startProxy, type ProxyName, type RunningProxy } from './proxies.ts';
import { startRecordingUpstream, type RecordedRequest, type RecordingUpstream } from './upstream.ts';
import { send, type RawResponse } from '../transports/http/fixtures.ts';

export interface ProxyStack<A> {
  /** What the start function returned (the Portcullis handle, the stub server …). */
  readonly auth: A;
  readonly proxy: RunningProxy;
  readonly upstream: RecordingUpstream;
  /** What reached the app since the test began. */
  reached(): readonly RecordedRequest[];
  /** One client request through the proxy, headers sent exactly as given. */
  client(method: string, path: string, headers?: readonly (readonly [string, string])[]): Promise<RawResponse>;
}

export interface StackOptions {
  /** Host names the proxy's site answers to besides 127.0.0.1. */
  readonly hosts?: readonly string[];
  /** Also run before each test (e.g. forget what a stub authorizer saw). */
  readonly reset?: () => void;
}

export function useProxyStack<A extends { close(): Promise<void> }>(
  name: ProxyName,
  startAuth: () => Promise<{ readonly auth: A; readonly address: string }>,
  options: StackOptions = {},
): ProxyStack<A> {
  let auth: A | undefined;
  let upstream: RecordingUpstream | undefined;
  let proxy: RunningProxy | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the proxy stack is not started');
    return value;
  };

  beforeAll(async () => {
    const a = await startAuth();
    auth = a.auth;
    upstream = await startRecordingUpstream();
    proxy = await startProxy(name, { authAddress: a.address, upstreamAddress: upstream.address, ...(options.hosts ? { hosts: options.hosts } : {}) });
  });
  afterAll(async () => {
    try {
      await proxy?.stop();
    } finally {
      await Promise.all([upstream?.close(), auth?.close()]);
    }
  });
  beforeEach(() => {
    upstream?.requests.splice(0);
    options.reset?.();
  });

  return {
    get auth() {
      return started(auth);
    },
    get proxy() {
      return started(proxy);
    },
    get upstream() {
      return started(upstream);
    },
    reached: () => upstream?.requests ?? [],
    client: (method, path, headers = []) => send(started(proxy).url, { method, path, headers }),
  };
}
