import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DevHostError } from './errors.js';

/** The host.json settings the local host honours, with the real host's defaults applied. */
export interface HostConfig {
  readonly queues: QueueSettings;
  /** undefined: no limit ("-1"). */
  readonly functionTimeoutMs: number | undefined;
  /** extensions.http.routePrefix; default `api`. */
  readonly routePrefix: string;
}

export interface QueueSettings {
  readonly maxPollingIntervalMs: number;
  /** How long a failed message stays invisible before its next attempt. */
  readonly visibilityTimeoutMs: number;
  readonly batchSize: number;
  readonly newBatchThreshold: number;
  readonly maxDequeueCount: number;
  readonly messageEncoding: 'base64' | 'none';
}

/** Functions on a dedicated/flex plan default to 30 minutes. */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;
/** The queue extension polls at most every 2 s when run locally (a minute in Azure). */
const DEFAULT_MAX_POLLING_INTERVAL_MS = 2_000;
const OVERRIDE_PREFIX = 'AzureFunctionsJobHost__';

const TIMESPAN = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/;

/** Parses a .NET TimeSpan as host.json writes it: `[d.]hh:mm:ss[.fffffff]`. */
export function parseTimeSpan(text: string): number {
  const match = TIMESPAN.exec(text.trim());
  if (!match) throw new DevHostError(`"${text}" is not a TimeSpan like "00:00:30".`);
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  const ms = Number(`0.${fraction || '0'}`) * 1000;
  return Math.round(
    ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + ms,
  );
}

const count = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).pipe(z.number().int());

const queuesSchema = z
  .object({
    maxPollingInterval: z.union([z.string(), z.number()]).optional(),
    visibilityTimeout: z.string().optional(),
    batchSize: count.pipe(z.number().min(1).max(32)).optional(),
    newBatchThreshold: count.pipe(z.number().min(0)).optional(),
    maxDequeueCount: count.pipe(z.number().min(1)).optional(),
    messageEncoding: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(['base64', 'none']))
      .optional(),
  })
  .loose();

const hostJsonSchema = z
  .object({
    functionTimeout: z.string().optional(),
    extensions: z
      .object({
        queues: queuesSchema.optional(),
        http: z.object({ routePrefix: z.string().optional() }).loose().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

/**
 * Applies the host's documented defaults to a host.json object. `settings` may override any value
 * with `AzureFunctionsJobHost__a__b` names, as app settings do in Azure.
 */
export function resolveHostConfig(hostJson: unknown, settings: Record<string, string> = {}): HostConfig {
  const parsed = hostJsonSchema.safeParse(applySettingOverrides(hostJson ?? {}, settings));
  if (!parsed.success) {
    throw new DevHostError(`host.json is not valid: ${z.prettifyError(parsed.error)}`);
  }
  const queues = parsed.data.extensions?.queues ?? {};
  const batchSize = queues.batchSize ?? 16;
  const polling = queues.maxPollingInterval;
  return {
    functionTimeoutMs: parseFunctionTimeout(parsed.data.functionTimeout),
    routePrefix: parsed.data.extensions?.http?.routePrefix ?? 'api',
    queues: {
      maxPollingIntervalMs:
        polling === undefined
          ? DEFAULT_MAX_POLLING_INTERVAL_MS
          : typeof polling === 'number'
            ? polling
            : parseTimeSpan(polling),
      visibilityTimeoutMs: queues.visibilityTimeout ? parseTimeSpan(queues.visibilityTimeout) : 0,
      batchSize,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor(batchSize / 2),
      maxDequeueCount: queues.maxDequeueCount ?? 5,
      messageEncoding: queues.messageEncoding ?? 'base64',
    },
  };
}

function parseFunctionTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_FUNCTION_TIMEOUT_MS;
  if (value.trim() === '-1') return undefined;
  return parseTimeSpan(value);
}

/** Reads `<appRoot>/host.json`; a missing file means all defaults. */
export async function readHostJson(appRoot: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(appRoot, 'host.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DevHostError(`${join(appRoot, 'host.json')} is not valid JSON.`, { cause: error });
  }
}

function applySettingOverrides(hostJson: unknown, settings: Record<string, string>): unknown {
  const root = structuredClone(hostJson) as Record<string, unknown>;
  for (const [name, value] of Object.entries(settings)) {
    if (!name.startsWith(OVERRIDE_PREFIX)) continue;
    const path = name.slice(OVERRIDE_PREFIX.length).split('__');
    const leaf = path.pop();
    if (!leaf) continue;
    let node = root;
    for (const segment of path) {
      const key = matchingKey(node, segment);
      const child = node[key];
      if (typeof child !== 'object' || child === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[matchingKey(node, leaf)] = value;
  }
  return root;
}

/** host.json keys are case-insensitive in the real host; keep the file's spelling when it has one. */
function matchingKey(node: Record<string, unknown>, segment: string): string {
  return Object.keys(node).find((k) => k.toLowerCase() === segment.toLowerCase()) ?? segment;
}
