import { glob, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  coreHooks,
  coreProgrammingModel,
  coreRegistrations,
  lockIndexing,
  primeFunctionsLibrary,
  type CoreFunctionMetadata,
  type FunctionCallback,
  type ProgrammingModel,
  type RpcBindingInfo,
} from './core-api.js';
import { DevHostError } from './errors.js';

/** One registered function, with its trigger binding picked out. */
export interface HostedFunction {
  readonly name: string;
  readonly metadata: CoreFunctionMetadata;
  readonly callback: FunctionCallback;
  readonly trigger: TriggerBinding;
  /** Output bindings by binding name, including `$return`. */
  readonly outputs: ReadonlyMap<string, RpcBindingInfo>;
}

export interface TriggerBinding extends RpcBindingInfo {
  readonly name: string;
  readonly type: string;
}

export interface LoadedApp {
  readonly appRoot: string;
  readonly model: ProgrammingModel;
  readonly functions: readonly HostedFunction[];
}

/*
 * ESM modules are cached per process, so the app's registrations run once: one process hosts one
 * app. A second host for the same app in the same process reuses the registrations.
 */
let loaded: Promise<LoadedApp> | undefined;
let loadedRoot: string | undefined;

/**
 * Loads the app the way the Node worker does: resolve package.json `main` (a glob is allowed),
 * import each entry file with `@azure/functions-core` answered by this host, collect what
 * `registerFunction` received, lock indexing and run the appStart hooks.
 */
export function loadFunctionApp(appRoot: string): Promise<LoadedApp> {
  const root = resolve(appRoot);
  if (loaded && loadedRoot !== root) {
    throw new DevHostError(
      `This process already hosts the app at ${loadedRoot}; one process hosts one app (ESM modules are cached).`,
    );
  }
  loadedRoot = root;
  loaded ??= importApp(root).catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

async function importApp(appRoot: string): Promise<LoadedApp> {
  const entries = await resolveEntryFiles(appRoot);
  primeFunctionsLibrary(appRoot);
  for (const file of entries) {
    await import(pathToFileURL(file).href);
  }
  const model = coreProgrammingModel();
  if (!model) {
    throw new DevHostError(`No function registered by ${entries.join(', ')}: the app never called app.*.`);
  }
  const capabilities = (await model.getCapabilities?.({})) ?? {};
  if (capabilities.HttpUri) {
    throw new DevHostError(
      'HTTP streaming (app.setup({ enableHttpStream: true })) is not supported locally.',
    );
  }
  lockIndexing();
  for (const hook of coreHooks('appStart')) {
    await hook({ hookData: {}, appHookData: {}, functionAppDirectory: appRoot });
  }
  return { appRoot, model, functions: coreRegistrations().map(toHostedFunction) };
}

/** package.json `main`, expanded as a glob relative to the app root, sorted for a stable load order. */
export async function resolveEntryFiles(appRoot: string): Promise<string[]> {
  const manifestPath = join(appRoot, 'package.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { main?: unknown };
  if (typeof manifest.main !== 'string' || manifest.main === '') {
    throw new DevHostError(`${manifestPath} has no "main" naming the compiled functions.`);
  }
  const files: string[] = [];
  for await (const file of glob(manifest.main, { cwd: appRoot })) {
    files.push(isAbsolute(file) ? file : join(appRoot, file));
  }
  if (files.length === 0) {
    throw new DevHostError(
      `"main": "${manifest.main}" in ${manifestPath} matches no file. Build the app first.`,
    );
  }
  return files.sort();
}

function toHostedFunction(registration: {
  metadata: CoreFunctionMetadata;
  callback: FunctionCallback;
}): HostedFunction {
  const { metadata, callback } = registration;
  let trigger: TriggerBinding | undefined;
  const outputs = new Map<string, RpcBindingInfo>();
  for (const [name, binding] of Object.entries(metadata.bindings)) {
    if (binding.direction === 'in' && typeof binding.type === 'string' && /trigger$/i.test(binding.type)) {
      trigger = { ...binding, name, type: binding.type };
    } else if (binding.direction === 'out') {
      outputs.set(name, binding);
    }
  }
  if (!trigger) throw new DevHostError(`Function "${metadata.name}" has no trigger binding.`);
  return { name: metadata.name, metadata, callback, trigger, outputs };
}

/** A string option the library spread onto a binding (queueName, schedule, route, connection, ...). */
export function bindingOption(binding: RpcBindingInfo, option: string): string | undefined {
  const value = binding[option];
  return typeof value === 'string' ? value : undefined;
}
