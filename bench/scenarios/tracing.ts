/**
 * tracing: src/main.ts with OpenTelemetry tracing on (always_on sampler, OTLP/HTTP to a loopback sink) against the
 * same entry point with no OTEL_* settings, cached token, gRPC and HTTP. Informational: no target.
 */
import { createServer } from 'node:http';
import { perf, ratioRow } from '../rows.ts';
import { shared } from '../setup.ts';
import type { Bench } from '../context.ts';

/** A loopback OTLP/HTTP sink that accepts and counts exports, so "tracing on" has somewhere to send. */
async function otlpSink(): Promise<{ port: number; count: () => number; close: () => void }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, count: () => n, close: () => server.close() };
}

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  b.log('tracing on vs off');
  const sink = await otlpSink();
  // The SDK is set up by the composition root (src/main.ts), so both sides run the real entry point, one process.
  const offEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(offEnv)) if (k.startsWith('OTEL_')) delete offEnv[k];
  const onEnv: NodeJS.ProcessEnv = {
    ...offEnv,
    OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}`,
    OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'portcullis-bench',
    ...(JSON.parse(process.env.BENCH_TRACING_ENV ?? '{}') as Record<string, string>),
  };
  const [on, off] = await Promise.all([
    b.startPortcullis('portcullis-tracing-on', { entry: 'main', env: onEnv, replaceEnv: true, extra: { workers: 1, ...(JSON.parse(process.env.BENCH_TRACING_CONFIG_JSON ?? '{}') as Record<string, unknown>) } }),
    b.startPortcullis('portcullis-tracing-off', { entry: 'main', env: offEnv, replaceEnv: true, extra: { workers: 1 } }),
  ]);
  const g = await b.sideBySide({ child: on.child, run: s.runGrpc(on.grpcPort, 'tracing-on') }, { child: off.child, run: s.runGrpc(off.grpcPort, 'tracing-off') }, 'gRPC tracing on/off');
  const h = await b.sideBySide({ child: on.child, run: s.runHttp(on.httpPort) }, { child: off.child, run: s.runHttp(off.httpPort) }, 'HTTP tracing on/off');
  await Promise.all([b.stopChild(on.child), b.stopChild(off.child)]); // before closing the sink: they flush on the way out
  sink.close();
  const exported = sink.count();
  const note = exported > 0 ? `src/main.ts, sampler always_on, OTLP/HTTP to a loopback sink that received ${exported} export requests` : '⚠ the loopback OTLP sink received nothing: tracing was probably not on (is it wired in src/main.ts? BENCH_TRACING_ENV / BENCH_TRACING_CONFIG_JSON add settings)';
  for (const [name, x] of [['gRPC Check', g], ['HTTP forward_auth', h]] as const) {
    b.rows.push(ratioRow({
      scenario: `Tracing on vs off, ${name}, cache hit`, how: name === 'gRPC Check' ? s.grpcHow : s.httpHow,
      target: x.target, targetText: `on: ${perf(x.target)}`, floor: x.floor, floorText: `off: ${perf(x.floor)}`, notes: [note],
    }));
  }
}
