/**
 * Per-call CPU and heap bytes of a synchronous step, and the common start of the in-process harnesses
 * (hotpath-handler.ts, hotpath-grpc.ts). Figures are only comparable within one run; take them on a quiet machine.
 */
import { GCProfiler, getHeapStatistics } from 'node:v8';
import type { Config } from '../src/core/config.ts';
import type { Core } from '../src/app.ts';
import type { Authorizer } from '../src/core/types.ts';

export interface PerCall {
  /** CPU µs per call (process.cpuUsage), the median over the rounds. */
  readonly cpuUs: number;
  /** Heap bytes allocated per call: used heap at the end − at the start + what every GC in between freed. */
  readonly bytes: number;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function perCall(step: () => void, calls: number, rounds: number): PerCall {
  const samples: { cpu: number; bytes: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const gc = new GCProfiler();
    gc.start();
    const before = getHeapStatistics().used_heap_size;
    const cpu = process.cpuUsage();
    for (let i = 0; i < calls; i++) step();
    const used = process.cpuUsage(cpu);
    const after = getHeapStatistics().used_heap_size;
    let freed = 0;
    for (const s of gc.stop()?.statistics ?? []) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    samples.push({ cpu: (used.user + used.system) / calls, bytes: (after - before + freed) / calls });
  }
  return { cpuUs: median(samples.map((s) => s.cpu)), bytes: median(samples.map((s) => s.bytes)) };
}

interface AllocNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: AllocNode[] }

/** Every allocation sampled, including what GCs collected: where the bytes per call go, the top `top` places. */
export async function allocationProfile(step: () => void, calls: number, top = 25): Promise<string> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  for (let i = 0; i < calls; i++) step();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: AllocNode } };
  session.disconnect();
  const self = new Map<string, number>();
  const walk = (n: AllocNode): void => {
    const here = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    self.set(here, (self.get(here) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, bytes]) => `${(bytes / calls).toFixed(0).padStart(6)} B  ${name}\n`).join('');
}

/**
 * The in-process harnesses' common start: the bench config, a started core behind the instrumented authorizer (as
 * server.ts builds it, metrics on), a valid RS256 token, and `--requests` / `--rounds` from the command line.
 */
export async function harness(name: string): Promise<Harness> {
  const { SignJWT } = await import('jose');
  const { buildConfig } = await import('../src/config/load.ts');
  const { createCore, defaultRuntime } = await import('../src/app.ts');
  const { createTelemetry, instrumentAuthorizer } = await import('../src/telemetry/index.ts');
  const { AUDIENCE, ISSUER, configDoc, makeKeys } = await import('./fixtures.ts');
  const arg = (flag: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${flag}`);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
  };
  const keys = await makeKeys();
  const config = buildConfig(configDoc(keys, { grpc: 0, http: 0 }), `bench/${name}`, process.cwd());
  const core = createCore(config, defaultRuntime);
  await core.start();
  const telemetry = createTelemetry(config, { now: defaultRuntime.now });
  const token = await new SignJWT({ scope: 'orders:read' })
    .setProtectedHeader({ alg: 'RS256', kid: keys.RS256.kid })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('bench-user').setIssuedAt().setExpirationTime('4h')
    .sign(keys.RS256.privateKey);
  return {
    config,
    core,
    authorizer: instrumentAuthorizer(core.authorizer, telemetry),
    token,
    requests: arg('requests', 200_000),
    rounds: arg('rounds', 5),
    stop: async () => {
      core.stop();
      await telemetry.shutdown();
    },
  };
}

export interface Harness {
  readonly config: Config;
  readonly core: Core;
  readonly authorizer: Authorizer;
  readonly token: string;
  readonly requests: number;
  readonly rounds: number;
  stop(): Promise<void>;
}
