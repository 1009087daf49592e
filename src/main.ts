/**
 * Entry point: `npm start -- --config FILE` (or PORTCULLIS_CONFIG=FILE). Without a config, the labelled demo.
 * A bad config stops the start with every problem listed by path (exit code 2).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from './config/load.ts';
import { defaultRuntime } from './app.ts';
import { startPortcullis } from './server.ts';
import { createDemo } from './demo.ts';
import { bufferedLineWriter, jsonLogger } from './log.ts';
import { startOpenTelemetry } from './telemetry/index.ts';
import { isWorker, reportReady, supervise } from './cluster.ts';
import { replayInUse } from './config/replay.ts';
import type { ReplayStoreEvent } from './stores/redis-replay.ts';

const USAGE = `usage: portcullis [--config FILE] [--listen-grpc ADDR] [--listen-http ADDR]
       portcullis explain --config FILE [--method M] [--path P] [--host H] [--header 'Name: value']... [TOKEN]
  --config FILE        YAML configuration (default: $PORTCULLIS_CONFIG; none = demo mode)
  --listen-grpc ADDR   override listen.grpc (host:port or unix:/path)
  --listen-http ADDR   override listen.http
  explain              print every check one request passes or fails (portcullis explain --help)
       portcullis keys generate --dir DIR [--alg ES256] [--activate-in 15m]   the next signing key (--help)`;

async function main(): Promise<number> {
  if (process.argv[2] === 'explain') {
    const { runExplain } = await import('./cli/explain.ts');
    return runExplain(process.argv.slice(3));
  }
  if (process.argv[2] === 'keys') {
    const { runKeys } = await import('./cli/keys.ts');
    return runKeys(process.argv.slice(3));
  }
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string' },
        'listen-grpc': { type: 'string' },
        'listen-http': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const log = jsonLogger((process.env.PORTCULLIS_LOG_LEVEL as 'info' | undefined) ?? 'info');
  const listen = {
    ...(args['listen-grpc'] !== undefined ? { grpc: args['listen-grpc'] } : {}),
    ...(args['listen-http'] !== undefined ? { http: args['listen-http'] } : {}),
  };
  const configPath = args.config ?? process.env.PORTCULLIS_CONFIG;
  const runtime = {
    ...defaultRuntime,
    onKeyEvent: (e: { type: string; issuer: string }) => log.log(e.type === 'load_failed' ? 'warn' : 'info', `keys ${e.type}`, { ...e }),
    onReplayEvent: (e: ReplayStoreEvent) => log.log(e.type === 'ready' ? 'info' : 'warn', `replay store ${e.type}`, { ...e }),
    // Kids, problems (file names and what is wrong) and readiness: never key material.
    onSigningEvent: (e: { type: string; ready?: boolean }) => log.log(e.type === 'signing_keys_loaded' || e.ready === true ? 'info' : 'warn', e.type.replaceAll('_', ' '), { ...e }),
  };

  let config;
  let demo;
  if (configPath) {
    try {
      config = loadConfigFile(configPath, listen);
    } catch (e) {
      if (e instanceof ConfigError) {
        process.stderr.write(`portcullis: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
  } else {
    demo = await createDemo({ grpc: listen.grpc ?? '127.0.0.1:9001', http: listen.http ?? '127.0.0.1:9002' });
    config = demo.config;
  }

  if (!isWorker() && config.replay?.store === 'memory' && replayInUse(config)) {
    // Several workers are refused by the config check; several replicas cannot be seen from here.
    log.log('warn', 'replay.store is memory: single-use tokens are only single-use within this one process. Run ONE replica, or use replay.store: redis', {
      on_store_error: config.replay.onStoreError,
    });
  }

  if (!isWorker() && config.workers > 1) {
    return supervise(config.workers, log, (first) =>
      log.log('info', 'portcullis started', { grpc: first.grpc, http: first.http, ready: first.ready, workers: config.workers, demo: false }),
    );
  }

  // The OpenTelemetry SDK from the OTEL_* variables (tracing only when they ask for it), before the server starts.
  const otel = await startOpenTelemetry();
  for (const warning of otel.warnings) log.log('warn', `opentelemetry: ${warning}`);
  const decisionLog = bufferedLineWriter(process.stdout);
  log.log('info', 'telemetry', {
    ...otel.summary,
    metrics: config.telemetry.metrics ? `${config.listen.admin ?? config.listen.http}/metrics` : false,
    decision_log_level: config.telemetry.logLevel,
  });
  const running = await startPortcullis(config, runtime, {
    ...(demo ? { routes: demo.routes } : {}),
    telemetry: { sdk: otel, log: decisionLog },
  });
  if (demo) process.stdout.write(demo.banner(running.grpcAddress, running.httpUrl));
  const ready = running.core.readiness.isReady();
  if (isWorker()) reportReady({ grpc: running.grpcAddress, http: running.httpUrl, ready });
  else log.log('info', 'portcullis started', { grpc: running.grpcAddress, http: running.httpUrl, ready, workers: 1, demo: !configPath });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.log('info', 'portcullis stopping', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await running.close();
  await otel.shutdown();
  await decisionLog.flush();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`portcullis: failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
