/**
 * The composition root: `node src/main.ts` with OTEL_* variables exports the server span over OTLP (flushed when it
 * stops on SIGTERM), writes the decision log line to stdout, and serves /metrics; without them it registers no
 * tracing at all.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePorts } from '../support/ports.ts';
import { SPAN_KIND_SERVER, startOtlpReceiver, traceIds, type OtlpReceiver } from './support.ts';

const MAIN = join(import.meta.dirname, '../../src/main.ts');
let child: ChildProcess | undefined;
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  await receiver?.close();
  child = receiver = undefined;
});

async function start(env: Record<string, string>): Promise<{ http: number; output: () => string; stopped: Promise<number | null> }> {
  const [grpc, http] = await freePorts(2);
  const proc = spawn(process.execPath, [MAIN, '--listen-grpc', `127.0.0.1:${grpc}`, '--listen-http', `127.0.0.1:${http}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...withoutOtel(process.env), PORTCULLIS_CONFIG: '', ...env },
  });
  child = proc;
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const stopped = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 15s:\n${out}`)), 15_000);
    proc.stdout!.on('data', () => {
      if (out.includes('"portcullis started"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void stopped.then((code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  return { http, output: () => out, stopped };
}

function withoutOtel(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('OTEL_')));
}

describe('node src/main.ts', () => {
  it('exports the server span of a decision over OTLP and logs the deny with its trace id', async () => {
    receiver = await startOtlpReceiver();
    const { http, output, stopped } = await start({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'portcullis-main-test',
      OTEL_METRICS_EXPORTER: 'none',
    });
    expect(output()).toMatch(/"msg":"telemetry".*"tracing":true.*"traces_protocol":"http\/json"/);
    const caller = traceIds();
    const response = await fetch(`http://127.0.0.1:${http}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/hello', traceparent: caller.traceparent } });
    expect(response.status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${http}/metrics`)).status).toBe(200);

    child!.kill('SIGTERM');
    expect(await stopped).toBe(0);
    const server = receiver.spans().find((s) => s.traceId === caller.traceId && s.kind === SPAN_KIND_SERVER);
    expect(server).toMatchObject({ parentSpanId: caller.spanId, attributes: { 'portcullis.reason': 'token_missing' }, resource: { 'service.name': 'portcullis-main-test' } });
    const line = output().split('\n').find((l) => l.includes(`"trace_id":"${caller.traceId}"`));
    expect(JSON.parse(line!)).toMatchObject({ msg: 'deny', reason: 'token_missing', span_id: server!.spanId });
    expect(receiver.bodies.has('/v1/metrics')).toBe(false);
  });

  it('traces nothing without OTEL_* configuration, and still logs denies', async () => {
    const { http, output, stopped } = await start({});
    expect(output()).toMatch(/"msg":"telemetry".*"tracing":false/);
    const caller = traceIds();
    expect((await fetch(`http://127.0.0.1:${http}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/hello', traceparent: caller.traceparent } })).status).toBe(401);
    child!.kill('SIGTERM');
    expect(await stopped).toBe(0);
    const line = output().split('\n').find((l) => l.includes(`"trace_id":"${caller.traceId}"`));
    // The caller's ids: there is no span of our own.
    expect(JSON.parse(line!)).toMatchObject({ msg: 'deny', reason: 'token_missing', span_id: caller.spanId });
  });
});
