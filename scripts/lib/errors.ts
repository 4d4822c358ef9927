/** The one error type of the deployment scripts; `hint` says what the operator can do about it. */
export class DeployScriptError extends Error {
  override readonly name = 'DeployScriptError';
  readonly isDeployScriptError = true;

  constructor(
    message: string,
    readonly details: { readonly status?: number; readonly code?: string; readonly hint?: string } = {},
  ) {
    super(message);
  }
}

export function isDeployScriptError(error: unknown): error is DeployScriptError {
  return (
    error instanceof DeployScriptError ||
    (typeof error === 'object' &&
      error !== null &&
      (error as { isDeployScriptError?: unknown }).isDeployScriptError === true)
  );
}
