import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { coreHooks, setSystemLogSink } from './core-api.js';
import { StorageClients } from './connections.js';
import { DevHostError, isDevHostError } from './errors.js';
import { bindingOption, loadFunctionApp, type HostedFunction, type LoadedApp } from './function-app.js';
import { readHostJson, resolveHostConfig, type HostConfig } from './host-json.js';
import { InFlight } from './in-flight.js';
import { invokeHostedFunction } from './invoker.js';
import { BlobCreatedWatcher } from './event-grid.js';
import { HttpTriggerServer } from './http-trigger.js';
import { HostLogger, stdoutLogSink, toHostLogLevel, type HostLogEntry } from './log.js';
import { defaultUseMonitor, parseNcrontab, resolveScheduleSetting } from './ncrontab.js';
import { OutputWriter } from './outputs.js';
import { QueueTriggerListener } from './queue-trigger.js';
import { BlobScheduleMonitor, HOST_CONTAINER } from './timer-monitor.js';
import { TimerScheduler, type TimerInfoPayload } from './timer-trigger.js';

export type { HostLogEntry } from './log.js';

export interface LocalHostOptions {
  /** Folder with package.json (`main` glob naming the compiled functions) and host.json. */
  appRoot: string;
  /** App settings; also copied into process.env before the app loads. */
  settings: Record<string, string>;
  /** 0 = a free port. */
  httpPort?: number;
  /**
   * Key for `authLevel: 'function'` routes; falls back to the `FUNCTIONS_LOCAL_KEY` setting, else a
   * random key (see RunningLocalHost.functionKey).
   */
  functionKey?: string;
  /** Default `{ container: 'incoming', queue: 'import-events' }`; `false` turns the emulation off. */
  eventGrid?: false | EventGridOptions;
  /** Replaces appRoot/host.json. */
  hostJson?: object;
  /** Receives every log line (host, library and context.log); default: stdout. */
  log?: (line: HostLogEntry) => void;
  /** How long a queue message being processed stays invisible (renewed while it runs). Default 60 s. */
  messageLeaseMs?: number;
  /** How long stop() waits for running invocations. Default 30 s. */
  stopTimeoutMs?: number;
  /** A timer run starting this late after its occurrence gets `isPastDue`. Default 1 s. */
  timerPastDueToleranceMs?: number;
}

export interface EventGridOptions {
  container: string;
  queue: string;
  /** Storage connection name (setting) for both; default AzureWebJobsStorage. */
  connection?: string;
  /** How often the container is listed. Default 1 s. */
  pollIntervalMs?: number;
  /** Emit events for blobs already in the container when the host starts. Default true. */
  includeExisting?: boolean;
}

export interface RunningLocalHost {
  /** http://127.0.0.1:<port> */
  readonly httpUrl: string;
  readonly functions: readonly string[];
  /** The key `authLevel: 'function'` routes accept (`?code=` or `x-functions-key`). */
  readonly functionKey: string;
  /** Runs a timer function now (optionally as a past-due run); rejects if it fails. */
  fireTimer(name: string, options?: { isPastDue?: boolean }): Promise<void>;
  /** Resolves once every trigger queue is empty and nothing is running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_LEASE_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const IDLE_POLL_MS = 50;
const DEFAULT_PAST_DUE_TOLERANCE_MS = 1_000;
const DEFAULT_EVENT_GRID: EventGridOptions = { container: 'incoming', queue: 'import-events' };
const DEFAULT_EVENT_GRID_POLL_MS = 1_000;
/** Names the timers' status blobs; set AzureFunctionsWebHost__hostid to separate apps sharing storage. */
const DEFAULT_HOST_ID = 'local-dev-host';

/**
 * Starts a local Functions host in this process for the app at `appRoot`. The app's ESM modules
 * are cached per process, so one process hosts one app; run `dev/host-cli.ts` in a child process
 * for another app or for a host that can be killed.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<RunningLocalHost> {
  const runtime = await createRuntime(options);
  const { app, logger, inFlight } = runtime;
  // Undone in reverse if a later step fails; run in order by stop().
  const started: (() => Promise<void>)[] = [];
  try {
    const triggers = await startTriggers(runtime, options);
    started.push(...triggers.listeners.map((l) => () => l.stop()));
    started.push(async () => triggers.timers.forEach((t) => t.stop()));

    const functionKey =
      options.functionKey ?? runtime.settings.FUNCTIONS_LOCAL_KEY ?? randomBytes(24).toString('base64url');
    const http = await startHttp(runtime, functionKey, options.httpPort ?? 0);
    started.push(() => http.close());

    const watcher =
      options.eventGrid === false
        ? undefined
        : await startWatcher(runtime, options.eventGrid ?? DEFAULT_EVENT_GRID);
    if (watcher) started.push(() => watcher.stop());

    await Promise.all([...triggers.timers.values()].map((t) => t.start()));
    logger.host(
      'information',
      `Host started with ${app.functions.map((f) => f.name).join(', ') || 'no functions'}.`,
    );

    let stopped: Promise<void> | undefined;
    return {
      httpUrl: http.url,
      functionKey,
      functions: app.functions.map((f) => f.name),
      fireTimer: async (name, fire = {}) => {
        const reason = triggers.disabled.get(name);
        if (reason) throw new DevHostError(`Function "${name}" is disabled: ${reason}`);
        const timer = triggers.timers.get(name);
        const fn = app.functions.find((f) => f.name === name);
        if (!timer || !fn) throw new DevHostError(`No timer function named "${name}".`);
        await runTimer(runtime, fn, timer.payload(fire.isPastDue ?? false));
      },
      idle: async () => {
        await Promise.all([...triggers.timers.values()].map((t) => t.settled()));
        await watcher?.scanOnce();
        await waitIdle(triggers.listeners, inFlight);
      },
      stop: () =>
        (stopped ??= (async () => {
          // Stop taking work (the HTTP server closes once its requests are answered), then drain.
          const closing = Promise.all(started.map((stop) => stop()));
          const drained = await inFlight.drained(options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
          if (!drained) logger.host('warning', `Stopped with ${inFlight.count} invocation(s) still running.`);
          http.forceClose();
          await closing;
          for (const hook of coreHooks('appTerminate')) await hook({ hookData: {}, appHookData: {} });
          logger.host('information', 'Host stopped.');
        })()),
    };
  } catch (error) {
    await Promise.allSettled(started.reverse().map((stop) => stop()));
    throw error;
  }
}

/** Settings into process.env (the app reads them there), then the app, host.json and clients. */
async function createRuntime(options: LocalHostOptions): Promise<HostRuntime> {
  Object.assign(process.env, options.settings);
  const settings = { ...definedEnv(), ...options.settings };
  const logger = new HostLogger(options.log ?? stdoutLogSink);
  setSystemLogSink((level, _category, message) =>
    logger.write({ level: toHostLogLevel(level) ?? 'information', category: 'system', message }),
  );
  const app = await loadFunctionApp(options.appRoot);
  const config = resolveHostConfig(options.hostJson ?? (await readHostJson(app.appRoot)), settings);
  const clients = new StorageClients(settings);
  const outputs = new OutputWriter(clients, config.queues.messageEncoding, logger);
  return { app, config, clients, outputs, logger, inFlight: new InFlight(), settings };
}

interface StartedTriggers {
  readonly listeners: QueueTriggerListener[];
  readonly timers: Map<string, TimerScheduler>;
  /** Functions left out because their bindings could not be resolved, with the reason. */
  readonly disabled: Map<string, string>;
}

async function startTriggers(runtime: HostRuntime, options: LocalHostOptions): Promise<StartedTriggers> {
  const started: StartedTriggers = { listeners: [], timers: new Map(), disabled: new Map() };
  try {
    for (const fn of runtime.app.functions) {
      const type = fn.trigger.type.toLowerCase();
      try {
        if (type === 'queuetrigger') {
          started.listeners.push(
            await startQueueListener(runtime, fn, options.messageLeaseMs ?? DEFAULT_LEASE_MS),
          );
        } else if (type === 'timertrigger') {
          started.timers.set(fn.name, createTimer(runtime, fn, options.timerPastDueToleranceMs));
        } else if (type !== 'httptrigger') {
          runtime.logger.host(
            'warning',
            `Trigger type "${fn.trigger.type}" is not run by the local host.`,
            fn.name,
          );
        }
      } catch (error) {
        // As in Azure: a function whose bindings cannot be resolved is left out; the rest run.
        if (!isDevHostError(error)) throw error;
        started.disabled.set(fn.name, error.message);
        runtime.logger.host('error', `The function is disabled: ${error.message}`, fn.name);
      }
    }
  } catch (error) {
    await Promise.allSettled(started.listeners.map((l) => l.stop()));
    throw error;
  }
  return started;
}

async function startHttp(
  runtime: HostRuntime,
  functionKey: string,
  port: number,
): Promise<HttpTriggerServer> {
  const { app, logger, inFlight, outputs, config } = runtime;
  const http = new HttpTriggerServer({
    functions: app.functions,
    routePrefix: config.routePrefix,
    functionKey,
    logger,
    invoke: (fn, request) =>
      inFlight.run(async () => {
        const input = { triggerData: { http: request } };
        const outcome = await invokeHostedFunction(app, fn, input, logger, config.functionTimeoutMs);
        await outputs.write(fn, outcome.response, request.params ?? {});
        return outcome.response;
      }),
  });
  await http.listen(port);
  for (const route of http.routes()) {
    logger.host('information', `${route.name}: [${route.methods?.join(',') ?? 'ANY'}] ${route.url}`);
  }
  return http;
}

interface HostRuntime {
  readonly app: LoadedApp;
  readonly config: HostConfig;
  readonly clients: StorageClients;
  readonly outputs: OutputWriter;
  readonly logger: HostLogger;
  readonly inFlight: InFlight;
  readonly settings: Readonly<Record<string, string>>;
}

async function startQueueListener(
  runtime: HostRuntime,
  fn: HostedFunction,
  leaseMs: number,
): Promise<QueueTriggerListener> {
  const queueName = bindingOption(fn.trigger, 'queueName');
  if (!queueName) throw new DevHostError(`Queue trigger of "${fn.name}" has no queueName.`);
  const service = runtime.clients.queueService(bindingOption(fn.trigger, 'connection'));
  const listener = new QueueTriggerListener({
    app: runtime.app,
    fn,
    queue: service.getQueueClient(queueName),
    poisonQueue: service.getQueueClient(`${queueName}-poison`),
    settings: runtime.config.queues,
    outputs: runtime.outputs,
    logger: runtime.logger,
    inFlight: runtime.inFlight,
    functionTimeoutMs: runtime.config.functionTimeoutMs,
    leaseMs,
  });
  await listener.start();
  return listener;
}

async function startWatcher(runtime: HostRuntime, eventGrid: EventGridOptions): Promise<BlobCreatedWatcher> {
  const watcher = new BlobCreatedWatcher({
    container: runtime.clients.blobService(eventGrid.connection).getContainerClient(eventGrid.container),
    queue: runtime.clients.queueService(eventGrid.connection).getQueueClient(eventGrid.queue),
    pollIntervalMs: eventGrid.pollIntervalMs ?? DEFAULT_EVENT_GRID_POLL_MS,
    includeExisting: eventGrid.includeExisting ?? true,
    logger: runtime.logger,
  });
  await watcher.start();
  runtime.logger.host(
    'information',
    `Event Grid emulation: BlobCreated in container "${eventGrid.container}" -> queue "${eventGrid.queue}".`,
  );
  return watcher;
}

function createTimer(
  runtime: HostRuntime,
  fn: HostedFunction,
  toleranceMs: number | undefined,
): TimerScheduler {
  const expression = bindingOption(fn.trigger, 'schedule');
  if (!expression) throw new DevHostError(`Timer trigger of "${fn.name}" has no schedule.`);
  const schedule = parseNcrontab(resolveScheduleSetting(expression, runtime.settings));
  const useMonitor = fn.trigger.useMonitor;
  const hostId = runtime.settings.AzureFunctionsWebHost__hostid || DEFAULT_HOST_ID;
  return new TimerScheduler({
    schedule,
    useMonitor: typeof useMonitor === 'boolean' ? useMonitor : defaultUseMonitor(schedule, new Date()),
    ...monitorFor(runtime, fn, hostId),
    onMonitorError: (error) =>
      runtime.logger.host('warning', `Timer schedule status unavailable: ${String(error)}`, fn.name),
    runOnStartup: fn.trigger.runOnStartup === true,
    pastDueToleranceMs: toleranceMs ?? DEFAULT_PAST_DUE_TOLERANCE_MS,
    // A failed scheduled run is logged by the invoker; the schedule carries on.
    invoke: (payload) => runTimer(runtime, fn, payload).catch(() => {}),
  });
}

/** Timers keep their status in AzureWebJobsStorage; without it they run unmonitored. */
function monitorFor(
  runtime: HostRuntime,
  fn: HostedFunction,
  hostId: string,
): { monitor?: BlobScheduleMonitor } {
  try {
    const container = runtime.clients.blobService(undefined).getContainerClient(HOST_CONTAINER);
    return { monitor: new BlobScheduleMonitor(container, hostId, fn.name) };
  } catch (error) {
    runtime.logger.host('warning', `Schedule status not kept: ${String(error)}`, fn.name);
    return {};
  }
}

function runTimer(runtime: HostRuntime, fn: HostedFunction, payload: TimerInfoPayload): Promise<void> {
  return runtime.inFlight.run(async () => {
    const outcome = await invokeHostedFunction(
      runtime.app,
      fn,
      { triggerData: { json: JSON.stringify(payload) } },
      runtime.logger,
      runtime.config.functionTimeoutMs,
    );
    await runtime.outputs.write(fn, outcome.response);
  });
}

async function waitIdle(listeners: readonly QueueTriggerListener[], inFlight: InFlight): Promise<void> {
  for (;;) {
    if (inFlight.count === 0 && (await queuesEmpty(listeners)) && inFlight.count === 0) return;
    await sleep(IDLE_POLL_MS);
  }
}

async function queuesEmpty(listeners: readonly QueueTriggerListener[]): Promise<boolean> {
  const counts = await Promise.all(listeners.map((l) => l.approximateMessageCount()));
  return counts.every((n) => n === 0);
}

function definedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}
