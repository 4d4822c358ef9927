/**
 * The product's log sink. Messages carry counts, ids and names, never cell values or tokens;
 * functions/ adapts it to InvocationContext, the CLI to stderr.
 */
export interface Logger {
  info(message: string, properties?: Readonly<Record<string, unknown>>): void;
  warn(message: string, properties?: Readonly<Record<string, unknown>>): void;
  error(message: string, properties?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
