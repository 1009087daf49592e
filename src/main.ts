/**
 * Entry point: `npm start -- --config FILE` (or PORTCULLIS_CONFIG=FILE). Without a config, the labelled demo.
 * A bad config stops the start with every problem listed by path (exit code 2). Running: the config file is
 * reloaded on change and on SIGHUP (lifecycle/reload.ts); SIGTERM drains, SIGINT stops (lifecycle/drain.ts).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFileWithText } from './config/load.ts';
import { bufferedLineWriter, jsonLogger } from './log.ts';
import { replayInUse } from './config/replay.ts';
import type { ReplayStoreEvent } from './stores/redis-replay.ts';

const USAGE = `usage: portcullis [--config FILE] [--listen-grpc ADDR] [--listen-http ADDR]
  --config FILE        YAML configuration (default: $PORTCULLIS_CONFIG; none = demo mode)
  --listen-grpc ADDR   override listen.grpc (host:port or unix:/path)
  --listen-http ADDR   override listen.http
commands (each has --help):
  portcullis explain --config FILE [--method M] [--path P] [--host H] [--header 'Name: value']... [TOKEN]
                       print every check one request passes or fails
  portcullis validate --config FILE
                       check a config offline, as a start would (exit 0 valid, 2 every problem by path)
  portcullis test --config FILE TESTS.yaml...
                       run decision tables through the real authorizer, offline (exit 0 all pass, 1 some fail)
  portcullis schema    print the JSON Schema (draft 2020-12) of the config, for editors and CI
  portcullis keys generate --dir DIR [--alg ES256] [--activate-in 15m]
                       the next signing key`;

/** `portcullis NAME …`: each subcommand's module loads only when it runs (the service's modules never do). */
type Subcommand = () => Promise<(argv: readonly string[]) => number | Promise<number>>;
const SUBCOMMANDS: ReadonlyMap<string, Subcommand> = new Map<string, Subcommand>([
  ['explain', async () => (await import('./cli/explain.ts')).runExplain],
  ['keys', async () => (await import('./cli/keys.ts')).runKeys],
  ['validate', async () => (await import('./cli/validate.ts')).runValidate],
  ['test', async () => (await import('./cli/test.ts')).runTests],
  ['schema', async () => (await import('./cli/schema.ts')).runSchema],
]);

async function main(): Promise<number> {
  const subcommand = SUBCOMMANDS.get(process.argv[2] ?? '');
  if (subcommand !== undefined) return (await subcommand())(process.argv.slice(3));
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
  // The service's modules (OpenTelemetry, gRPC, cluster) load only here: `explain` and `--help` stay quick.
  const [{ defaultRuntime }, { startPortcullis }, { createDemo }, { startOpenTelemetry }, { isWorker, reportReady, supervise }, { createShutdown }, { startReloader }, { groupScrape, serveWorker }] =
    await Promise.all([
      import('./app.ts'), import('./server.ts'), import('./demo.ts'), import('./telemetry/index.ts'), import('./cluster.ts'),
      import('./lifecycle/drain.ts'), import('./lifecycle/reload.ts'), import('./lifecycle/worker.ts'),
    ]);
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
    // Refused client credentials, once per interval per issuer, with the IdP's error (never our secret).
    onIntrospectionEvent: (e: { type: string }) => {
      if (e.type === 'introspection_client_refused') log.log('warn', 'introspection client credentials refused', { ...e });
    },
    // Kids, problems (file names and what is wrong) and readiness: never key material.
    onSigningEvent: (e: { type: string; ready?: boolean }) => log.log(e.type === 'signing_keys_loaded' || e.ready === true ? 'info' : 'warn', e.type.replaceAll('_', ' '), { ...e }),
  };

  let config;
  let configText: string | undefined;
  let demo;
  const loadConfig = () => loadConfigFileWithText(configPath!, listen);
  if (configPath) {
    try {
      ({ config, text: configText } = loadConfig());
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
    const workers = config.workers;
    return supervise({
      config,
      log,
      onAllReady: (first) => log.log('info', 'portcullis started', { grpc: first.grpc, http: first.http, ready: first.ready, workers, demo: false }),
      ...(configPath !== undefined && configText !== undefined ? { reload: { path: configPath, text: configText, load: loadConfig } } : {}),
    });
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
    telemetry: { sdk: otel, log: decisionLog, ...(isWorker() ? { groupScrape } : {}) },
  });
  if (demo) process.stdout.write(demo.banner(running.grpcAddress, running.httpUrl));

  const exited = new Promise<number>((resolve) => {
    const shutdown = createShutdown({
      drainMs: config.shutdown.drainMs,
      timeoutMs: config.shutdown.timeoutMs,
      beginDrain: () => running.beginDrain(),
      close: (timeoutMs) => running.close(timeoutMs),
      exit: (code) => resolve(code),
      log,
    });
    process.on('SIGTERM', () => shutdown.signal('SIGTERM'));
    process.on('SIGINT', () => shutdown.signal('SIGINT'));
    if (isWorker()) serveWorker({ running, shutdown, configPath, listen });
  });
  // One process: it watches its own config. Workers: the primary watches and hands them the validated text.
  const reloader = configPath !== undefined && configText !== undefined && !isWorker()
    ? startReloader({
        path: configPath,
        load: loadConfig,
        current: () => running.config,
        currentText: configText,
        apply: (next) => running.reload(next),
        refused: (problems) => running.reloadFailed(problems),
        log,
      })
    : undefined;
  // SIGHUP must never kill the service (workers: the primary handles it).
  if (reloader === undefined) process.on('SIGHUP', () => isWorker() || log.log('warn', 'SIGHUP: no config file to reload (demo mode)'));

  const ready = running.core.readiness.isReady();
  if (isWorker()) reportReady({ grpc: running.grpcAddress, http: running.httpUrl, ready });
  else log.log('info', 'portcullis started', { grpc: running.grpcAddress, http: running.httpUrl, ready, workers: 1, demo: !configPath });

  const code = await exited;
  reloader?.close();
  if (code === 0) {
    await otel.shutdown();
    await decisionLog.flush();
  }
  return code;
}

main().then(
  // stdout to a pipe is asynchronous: let the last log lines out before exiting.
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`portcullis: failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
