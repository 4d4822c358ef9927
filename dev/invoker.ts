import { randomUUID } from 'node:crypto';
import {
  coreHooks,
  type CoreInvocationContext,
  type FunctionCallback,
  type RpcInvocationResponse,
  type RpcTypedData,
} from './core-api.js';
import { DevHostError } from './errors.js';
import type { HostedFunction, LoadedApp } from './function-app.js';
import { toHostLogLevel, type HostLogger } from './log.js';

export interface InvocationInput {
  /** The trigger's value as the host would send it over RPC. */
  readonly triggerData: RpcTypedData;
  /** PascalCase keys, as the host sends them; the library camel-cases them for non-HTTP, non-timer triggers. */
  readonly triggerMetadata?: Record<string, RpcTypedData>;
  readonly invocationId?: string;
}

export interface InvocationOutcome {
  readonly invocationId: string;
  readonly response: RpcInvocationResponse;
}

/**
 * Runs one invocation through the library's InvocationModel in the worker's order:
 * getArguments, preInvocation hooks, invokeFunction, postInvocation hooks, getResponse.
 * Rejects with the handler's error (after postInvocation hooks had their say).
 */
export async function invokeHostedFunction(
  app: LoadedApp,
  fn: HostedFunction,
  input: InvocationInput,
  logger: HostLogger,
  timeoutMs: number | undefined,
): Promise<InvocationOutcome> {
  const invocationId = input.invocationId ?? randomUUID();
  const coreCtx: CoreInvocationContext = {
    invocationId,
    metadata: fn.metadata,
    request: {
      invocationId,
      functionId: fn.name,
      inputData: [{ name: fn.trigger.name, data: input.triggerData }],
      triggerMetadata: input.triggerMetadata ?? {},
    },
    log: (level, category, message) =>
      logger.write({
        level: toHostLogLevel(level) ?? 'information',
        category: category === 'user' ? 'user' : 'system',
        functionName: fn.name,
        invocationId,
        message,
      }),
  };
  const model = app.model.getInvocationModel(coreCtx);
  const args = await model.getArguments();
  const context = args.context;
  let inputs = args.inputs;
  const hookData: Record<string, unknown> = {};

  const pre: Record<string, unknown> = {
    hookData,
    appHookData: {},
    invocationContext: context,
    functionCallback: fn.callback,
    inputs,
  };
  coreCtx.state = 'preInvocationHooks';
  for (const hook of coreHooks('preInvocation')) await hook(pre);
  inputs = Array.isArray(pre.inputs) ? (pre.inputs as unknown[]) : inputs;
  const callback =
    typeof pre.functionCallback === 'function' ? (pre.functionCallback as FunctionCallback) : fn.callback;

  coreCtx.state = 'invocation';
  const started = performance.now();
  const say = (level: 'information' | 'error', message: string): void =>
    logger.write({ level, category: 'host', functionName: fn.name, invocationId, message });
  say('information', `Executing '${fn.name}' (Id=${invocationId})`);
  const post: Record<string, unknown> = { hookData, appHookData: {}, invocationContext: context, inputs };
  try {
    post.result = await withTimeout(model.invokeFunction(context, inputs, callback), timeoutMs, fn.name);
  } catch (error) {
    post.error = error;
  }
  coreCtx.state = 'postInvocationHooks';
  for (const hook of coreHooks('postInvocation')) await hook(post);
  const duration = Math.round(performance.now() - started);
  if (post.error !== undefined && post.error !== null) {
    const reason = post.error instanceof Error ? post.error.message : String(post.error);
    say('error', `Executed '${fn.name}' (Failed, Id=${invocationId}, Duration=${duration}ms): ${reason}`);
    throw post.error;
  }
  say('information', `Executed '${fn.name}' (Succeeded, Id=${invocationId}, Duration=${duration}ms)`);
  return { invocationId, response: await model.getResponse(context, post.result) };
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number | undefined, name: string): Promise<T> {
  if (timeoutMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DevHostError(`Function "${name}" exceeded functionTimeout (${timeoutMs} ms).`)),
      timeoutMs,
    );
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
