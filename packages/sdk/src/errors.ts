/** An error answer from Refinery: the HTTP status and the server's `{"error":{code,message,details}}`. */
export class RefineryError extends Error {
  override name = 'RefineryError';
  constructor(
    /** HTTP status of the answer. */
    readonly status: number,
    /** Stable, machine-readable code, e.g. `not_found`, `validation_failed`. */
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** The request id Refinery gave the call, to quote when asking an operator. */
    readonly requestId?: string,
    /** How long the answer's `Retry-After` asked to wait, in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The lease on a batch is gone (it expired, or results were already posted): drop the batch. */
export class LeaseLostError extends RefineryError {
  override name = 'LeaseLostError';
}

/**
 * Thrown by a robot's handler to fail the whole batch instead of one record.
 * `retryable: true` puts the items back in the queue (after a backoff); false fails them
 * with `message`.
 */
export class BatchError extends Error {
  override name = 'BatchError';
  readonly retryable: boolean;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

/**
 * Thrown by a record handler: fails this record only. `retryable: true` asks Refinery to try the
 * record again later (while the robot's attempts last); a plain Error is not retried.
 */
export class RecordError extends Error {
  override name = 'RecordError';
  readonly retryable: boolean;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

const networkErrorCodes = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/**
 * True for failures worth retrying as they are: the network (refused, reset, timed out,
 * fetch's `TypeError: fetch failed`), an `AbortSignal.timeout`, and answers 408, 429 and 5xx.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof RefineryError) return err.status === 408 || err.status === 429 || err.status >= 500;
  if (!(err instanceof Error)) return false;
  if (err.name === 'TimeoutError') return true;
  if (err instanceof TypeError && (err.message === 'fetch failed' || err.message === 'terminated')) return true;
  const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && networkErrorCodes.has(code);
}

/** Milliseconds a `Retry-After` header asks to wait (seconds, or an HTTP date); undefined when there is none or it cannot be read. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}
