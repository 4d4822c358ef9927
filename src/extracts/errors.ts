/** Why an extract could not run; `code` is stable for callers and logs. */
export type ExtractErrorCode = 'InvalidJob' | 'UnknownColumn' | 'OutputFailed' | 'StateCorrupt';

/** The one error type extracts throw across module lines. Dataverse errors pass through unchanged. */
export class ExtractError extends Error {
  override readonly name = 'ExtractError';
  constructor(
    readonly code: ExtractErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isExtractError(error: unknown): error is ExtractError {
  return error instanceof ExtractError;
}
