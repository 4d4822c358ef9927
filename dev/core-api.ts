import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { DevHostError } from './errors.js';

/*
 * The `@azure/functions-core` contract the Node worker provides to the programming-model library.
 * The package is not published; these are the parts of its types-core/index.d.ts that the
 * library (4.x) uses.
 */

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | number | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  enableContentNegotiation?: boolean | null;
  cookies?: RpcHttpCookie[] | null;
}

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  dataType?: string | null;
  name?: string | null;
  /** Every user option (queueName, schedule, route, ...) is spread onto the binding. */
  [option: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string | null;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export interface RpcInvocationRequest {
  invocationId: string;
  functionId: string;
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number } | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: RpcTypedData | null }[] | null;
  returnValue?: RpcTypedData | null;
}

export type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type RpcLogCategory = 'user' | 'system' | 'customMetric';

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: CoreFunctionMetadata;
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): InvocationModel;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate' | 'log';
export type HookCallback = (context: Record<string, unknown>) => unknown;

export interface Registration {
  readonly metadata: CoreFunctionMetadata;
  readonly callback: FunctionCallback;
}

class Disposable {
  readonly #onDispose: () => void;
  constructor(onDispose: () => void) {
    this.#onDispose = onDispose;
  }
  dispose(): void {
    this.#onDispose();
  }
}

type SystemLogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

/** What the app registered in this process. The library caches the core API, so this is per process. */
class CoreState {
  readonly registrations: Registration[] = [];
  readonly hooks = new Map<HookName, HookCallback[]>();
  programmingModel: ProgrammingModel | undefined;
  indexingLocked = false;
  logSink: SystemLogSink = () => {};
}

const state = new CoreState();

const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1000.0',
  Disposable,
  registerFunction(metadata: CoreFunctionMetadata, callback: FunctionCallback): Disposable {
    if (state.indexingLocked) {
      throw new DevHostError('A function can only be registered during app startup.');
    }
    const registration: Registration = { metadata: { ...metadata, functionId: metadata.name }, callback };
    if (state.registrations.some((r) => r.metadata.name === metadata.name)) {
      throw new DevHostError(`Duplicate function name "${metadata.name}".`);
    }
    state.registrations.push(registration);
    return new Disposable(() => {
      const index = state.registrations.indexOf(registration);
      if (index >= 0) state.registrations.splice(index, 1);
    });
  },
  setProgrammingModel(model: ProgrammingModel): void {
    state.programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return state.programmingModel;
  },
  registerHook(name: HookName, callback: HookCallback): Disposable {
    const list = state.hooks.get(name) ?? [];
    list.push(callback);
    state.hooks.set(name, list);
    return new Disposable(() => {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    });
  },
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    state.logSink(level, category, message);
  },
};

let proxyInstalled = false;

/**
 * Answers `require('@azure/functions-core')` the way the Node worker does (setupCoreModule.ts):
 * a Proxy over Module.prototype.require. Must run before the app's first `app.*` call, because the
 * library looks the core module up lazily once and caches the answer.
 */
export function installCoreModule(): void {
  if (proxyInstalled) return;
  const prototype = Module.prototype as { require: (id: string) => unknown };
  prototype.require = new Proxy(prototype.require, {
    apply(target, thisArg: unknown, args: [string]) {
      if (args[0] === '@azure/functions-core') return coreApi;
      return Reflect.apply(target, thisArg, args);
    },
  });
  proxyInstalled = true;
}

interface FunctionsLibrary {
  app: { hook: { appTerminate(handler: () => void): { dispose(): void } } };
}

/**
 * Loads `@azure/functions` as the app will resolve it and makes the library look the core module
 * up now, through the CommonJS loader, whatever ESM loader hooks (tsx, vitest) are active later.
 * Throws if the library already settled into test mode in this process.
 */
export function primeFunctionsLibrary(appRoot: string): void {
  installCoreModule();
  const requireFromApp = createRequire(join(appRoot, 'package.json'));
  const library = requireFromApp('@azure/functions') as FunctionsLibrary;
  const before = state.hooks.get('appTerminate')?.length ?? 0;
  const probe = library.app.hook.appTerminate(() => {});
  const reachedCore = (state.hooks.get('appTerminate')?.length ?? 0) > before;
  probe.dispose();
  if (!reachedCore) {
    throw new DevHostError(
      '"@azure/functions" was loaded in test mode before the local host started; start the host before ' +
        'anything in this process imports the app.',
    );
  }
}

export function coreRegistrations(): readonly Registration[] {
  return state.registrations;
}

export function coreProgrammingModel(): ProgrammingModel | undefined {
  return state.programmingModel;
}

export function coreHooks(name: HookName): readonly HookCallback[] {
  return [...(state.hooks.get(name) ?? [])];
}

export function lockIndexing(): void {
  state.indexingLocked = true;
}

export function setSystemLogSink(sink: SystemLogSink): void {
  state.logSink = sink;
}
