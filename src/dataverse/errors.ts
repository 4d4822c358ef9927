// One error type for everything the Dataverse client throws or reports per record.

/** Dataverse platform error codes the client reacts to (hex strings as the Web API sends them). */
export const DataverseCodes = {
  objectDoesNotExist: '0x80040217',
  recordNotFoundByKey: '0x80060891',
  duplicateRecord: '0x80040237',
  duplicateRecordEntityKey: '0x80060892',
  sqlUniqueViolation: '0x80073002',
  concurrencyMismatch: '0x80060882',
  requestLimit: '0x80072322',
  executionTimeLimit: '0x80072321',
  concurrencyLimit: '0x80072326',
  payloadError: '0x80048d19',
  queryError: '0x80060888',
  /** Duplicate detection (MSCRM.SuppressDuplicateDetection: false) found a matching record (§13). */
  duplicateDetected: '0x80040333',
} as const;

/** Codes the client itself assigns when no Dataverse code exists (transport-level failures). */
export const ClientCodes = {
  network: 'NETWORK',
  /** The connection was refused or the host name did not resolve: no server took the request. */
  unreachable: 'UNREACHABLE',
  /** No credential gave a token for the environment. */
  signIn: 'SIGN_IN',
  timeout: 'TIMEOUT',
  aborted: 'ABORTED',
  parse: 'PARSE',
  missingResponse: 'MISSING_RESPONSE',
  /** A link (nextLink, deltaLink) pointing outside the org: never sent, so the token stays home. */
  foreignOrigin: 'FOREIGN_ORIGIN',
  /** A create's record id is held by an existing record (read back after a duplicate answer): nothing was written. */
  idTaken: 'ID_TAKEN',
} as const;

export const dataverseErrorName = 'DataverseError';

/** A request as it may appear in logs and errors: never carries an Authorization value. */
export interface RedactedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface DataverseErrorInit {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryable?: boolean;
  readonly recordIndex?: number;
  readonly table?: string;
  readonly request?: RedactedRequest;
  readonly retryAfterMs?: number;
  readonly ambiguous?: boolean;
  readonly cause?: unknown;
  readonly recordStatuses?: readonly BulkRecordStatus[];
}

/**
 * One record of a bulk message on an elastic table, where records succeed or fail on their own
 * (reference §7, §13: `RequestIndex`, `Id`, `StatusCode`, sent when annotations are asked for).
 */
export interface BulkRecordStatus {
  readonly index: number;
  readonly id?: string;
  readonly status: number;
}

/** The error annotation carrying an elastic table's per-record bulk outcome (a JSON array in a string). */
export const bulkErrorDetailsAnnotation = '@Microsoft.PowerApps.CDS.ErrorDetails.BulkApiErrorDetails';

export class DataverseError extends Error {
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** Dataverse error code (`0x80040217`) or a ClientCodes value. */
  readonly code: string;
  readonly retryable: boolean;
  readonly recordIndex?: number;
  readonly table?: string;
  readonly request?: RedactedRequest;
  readonly retryAfterMs?: number;
  /** An earlier attempt of the failed request went unanswered, so the server may have done the work. */
  readonly ambiguous?: boolean;
  /** Elastic tables: which records of the bulk message failed (the others were written). */
  readonly recordStatuses?: readonly BulkRecordStatus[];

  constructor(init: DataverseErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = dataverseErrorName;
    this.status = init.status;
    this.code = init.code;
    this.retryable = init.retryable ?? false;
    if (init.recordIndex !== undefined) this.recordIndex = init.recordIndex;
    if (init.table !== undefined) this.table = init.table;
    if (init.request !== undefined) this.request = redactRequest(init.request);
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.ambiguous) this.ambiguous = true;
    if (init.recordStatuses !== undefined) this.recordStatuses = init.recordStatuses;
    Object.setPrototypeOf(this, DataverseError.prototype);
  }

  /** The same error attributed to one record of a bulk call. */
  forRecord(recordIndex: number, table?: string): DataverseError {
    return new DataverseError({ ...this.init(), recordIndex, table: table ?? this.table });
  }

  /** A copy with more context (table, ambiguity). */
  with(extra: { table?: string; ambiguous?: boolean }): DataverseError {
    return new DataverseError({ ...this.init(), ...extra });
  }

  private init(): DataverseErrorInit {
    return {
      status: this.status,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      recordIndex: this.recordIndex,
      table: this.table,
      request: this.request,
      retryAfterMs: this.retryAfterMs,
      ambiguous: this.ambiguous,
      cause: this.cause,
      recordStatuses: this.recordStatuses,
    };
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      status: this.status,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      recordIndex: this.recordIndex,
      table: this.table,
      request: this.request,
    };
  }
}

export function isDataverseError(e: unknown): e is DataverseError {
  return (
    e instanceof DataverseError || (e instanceof Error && e.name === dataverseErrorName && 'status' in e)
  );
}

const secretHeaders = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** Copies headers with secret values replaced, so requests can be logged or attached to errors. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = secretHeaders.has(name.toLowerCase()) ? '[redacted]' : value;
  }
  return out;
}

export function redactRequest(request: RedactedRequest): RedactedRequest {
  return { method: request.method, url: request.url, headers: redactHeaders(request.headers) };
}

export function isDuplicateCode(code: string): boolean {
  const c = code.toLowerCase();
  return (
    code === ClientCodes.idTaken ||
    c === DataverseCodes.duplicateRecord ||
    c === DataverseCodes.duplicateRecordEntityKey ||
    c === DataverseCodes.sqlUniqueViolation
  );
}

/**
 * The answer for a create whose id an existing record holds. `ambiguous`: an unanswered earlier attempt of the
 * same request may have created it.
 */
export function idTakenError(table: string, id: string, ambiguous?: boolean): DataverseError {
  return new DataverseError({
    status: 412,
    code: ClientCodes.idTaken,
    message: `A ${table} record with id ${id.toLowerCase()} already exists; this create did not write it.`,
    table,
    ...(ambiguous ? { ambiguous } : {}),
  });
}

export function isNotFoundCode(code: string): boolean {
  const c = code.toLowerCase();
  return c === DataverseCodes.objectDoesNotExist || c === DataverseCodes.recordNotFoundByKey;
}

/** Statuses worth another attempt: throttling and transient gateway / availability failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504 || status === 408;
}

/**
 * Builds a DataverseError from an error response. Bodies are `{"error":{"code","message"}}`; anything else
 * (an HTML gateway page) keeps its status and a short excerpt.
 */
export function errorFromResponse(
  status: number,
  bodyText: string,
  request?: RedactedRequest,
  retryAfterMs?: number,
): DataverseError {
  let code = '';
  let message = '';
  let recordStatuses: BulkRecordStatus[] | undefined;
  try {
    const parsed: unknown = JSON.parse(bodyText);
    if (parsed && typeof parsed === 'object' && 'error' in parsed) {
      const err = (parsed as { error: unknown }).error;
      if (err && typeof err === 'object') {
        const e = err as { code?: unknown; message?: unknown };
        if (typeof e.code === 'string') code = e.code;
        if (typeof e.message === 'string') message = e.message;
        recordStatuses = parseBulkRecordStatuses(
          (err as Record<string, unknown>)[bulkErrorDetailsAnnotation],
        );
      }
    }
  } catch {
    message = bodyText.slice(0, 300);
  }
  return new DataverseError({
    status,
    code,
    message: message || `HTTP ${status}`,
    retryable: isRetryableStatus(status),
    request,
    retryAfterMs,
    ...(recordStatuses ? { recordStatuses } : {}),
  });
}

/** The per-record statuses of an elastic table's bulk answer; undefined when absent or malformed. */
export function parseBulkRecordStatuses(value: unknown): BulkRecordStatus[] | undefined {
  let items: unknown = value;
  if (typeof value === 'string') {
    try {
      items = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(items)) return undefined;
  const out: BulkRecordStatus[] = [];
  for (const item of items as unknown[]) {
    if (!item || typeof item !== 'object') return undefined;
    const r = item as { RequestIndex?: unknown; Id?: unknown; StatusCode?: unknown };
    if (typeof r.RequestIndex !== 'number' || typeof r.StatusCode !== 'number') return undefined;
    out.push({
      index: r.RequestIndex,
      status: r.StatusCode,
      ...(typeof r.Id === 'string' ? { id: r.Id.toLowerCase() } : {}),
    });
  }
  return out;
}
