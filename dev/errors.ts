/** The one error type the local host throws across its modules. */
export class DevHostError extends Error {
  override readonly name = 'DevHostError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isDevHostError(error: unknown): error is DevHostError {
  return error instanceof DevHostError;
}
