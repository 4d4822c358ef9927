export type HostLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

/** One log line from the host itself or from a function's `context.log`. */
export interface HostLogEntry {
  readonly time: string;
  readonly level: HostLogLevel;
  /** `user`: the function's context.log; `system`: the @azure/functions library; `host`: this host. */
  readonly category: 'user' | 'system' | 'host';
  readonly message: string;
  readonly functionName?: string;
  readonly invocationId?: string;
}

export type HostLogSink = (entry: HostLogEntry) => void;

const SECRETS: readonly [RegExp, string][] = [
  [/(authorization["']?\s*[:=]\s*["']?)(bearer|basic|sharedkey)?\s*[^\s"',;]+/gi, '$1$2 [redacted]'],
  [/(AccountKey=)[^;"'\s]+/gi, '$1[redacted]'],
  [/(SharedAccessSignature=)[^;"'\s]+/gi, '$1[redacted]'],
  [/([?&](?:code|sig)=)[^&"'\s]+/gi, '$1[redacted]'],
  [/(x-functions-key["']?\s*[:=]\s*["']?)[^\s"',;]+/gi, '$1[redacted]'],
];

/** Removes credentials (Authorization values, account keys, SAS signatures, function keys) from a line. */
export function redactSecrets(text: string): string {
  return SECRETS.reduce((line, [pattern, replacement]) => line.replace(pattern, replacement), text);
}

/** `2026-11-26T11:00:00.000Z [information] writeChunk (1a2b3c4d): message` */
export function formatLogEntry(entry: HostLogEntry): string {
  const source = entry.functionName
    ? `${entry.functionName}${entry.invocationId ? ` (${entry.invocationId.slice(0, 8)})` : ''}`
    : 'host';
  return `${entry.time} [${entry.level}] ${source}: ${entry.message}`;
}

export const stdoutLogSink: HostLogSink = (entry) => {
  process.stdout.write(`${formatLogEntry(entry)}\n`);
};

/** Builds entries, redacts them and hands them to the sink; a throwing sink never breaks the host. */
export class HostLogger {
  readonly #sink: HostLogSink;
  constructor(sink: HostLogSink) {
    this.#sink = sink;
  }

  write(entry: Omit<HostLogEntry, 'time' | 'message'> & { message: string }): void {
    try {
      this.#sink({ ...entry, time: new Date().toISOString(), message: redactSecrets(entry.message) });
    } catch {
      // Logging must not change what the host does.
    }
  }

  host(level: HostLogLevel, message: string, functionName?: string): void {
    this.write({ level, category: 'host', message, ...(functionName ? { functionName } : {}) });
  }
}

export function toHostLogLevel(level: string): HostLogLevel | undefined {
  switch (level) {
    case 'trace':
    case 'debug':
    case 'information':
    case 'warning':
    case 'error':
    case 'critical':
      return level;
    default:
      return undefined;
  }
}
