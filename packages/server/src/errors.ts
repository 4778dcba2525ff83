import { apiErrors, type ApiErrorCode } from '@refinery/protocol';

/**
 * An error Refinery answers with: a code declared in `@refinery/protocol` (apiErrors), which
 * gives its HTTP status, and a message for a person. The error handler (http/errorHandler.ts)
 * turns it into `{"error":{"code","message","details"?}}`. `status` differs from the code's own
 * only on DESTINY's routes, which answer as DESTINY does (docs/destiny.md).
 */
export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
    status?: number,
  ) {
    super(message);
    this.statusCode = status ?? apiErrors[code].status;
  }
}

/** The body of an error answer. */
export const errorBody = (code: ApiErrorCode, message: string, details?: unknown) => ({ error: { code, message, ...(details !== undefined && { details }) } });

/** The Retry-After of a 503: about as long as PostgreSQL takes to restart. */
export const retryAfterSeconds = 5;

export const errors = {
  invalidRequest: (message: string, details?: unknown) => new AppError('invalid_request', message, details),
  /** A record query that cannot be run (docs/queries.md): `at` is where, a character offset into the query string or a JSON pointer into the body. */
  invalidQuery: (message: string, at: { offset: number } | { pointer: string }) => new AppError('invalid_query', message, at),
  /** A record search that ran past REFINERY_SEARCH_TIMEOUT and was stopped. */
  queryTimeout: (ms: number) =>
    new AppError('query_timeout', `the search ran past ${ms / 1000} s (REFINERY_SEARCH_TIMEOUT) and was stopped: add an indexed clause (a type, an identifier, a content equality) to narrow it`),
  invalidCursor: () => new AppError('invalid_cursor', 'cursor is not one this API gave out'),
  unauthorized: (message = 'send Authorization: Bearer <api key>') => new AppError('unauthorized', message),
  badSignature: (message: string) => new AppError('bad_signature', message),
  forbidden: (message = 'this key may not do that') => new AppError('forbidden', message),
  notFound: (what: string) => new AppError('not_found', `${what} not found`),
  /** An error of a declared code, answered with that code's status (409, 422, …), that needs no builder of its own. */
  of: (code: ApiErrorCode, message: string, details?: unknown) => new AppError(code, message, details),
  /** A records import names, for one record, identifiers that different stored records hold. */
  identifierConflict: (message: string, details: unknown) => new AppError('identifier_conflict', message, details),
  bodyTimeout: (ms: number) => new AppError('body_timeout', `the request body stalled: nothing arrived for ${ms / 1000} s (REFINERY_BODY_TIMEOUT)`),
  payloadTooLarge: (message: string) => new AppError('payload_too_large', message),
  unsupportedMediaType: (message: string) => new AppError('unsupported_media_type', message),
  /** On DESTINY's routes, which answer 422 where Refinery's own would answer 400 or 409 (docs/destiny.md). */
  destinyUnprocessable: (code: ApiErrorCode, message: string) => new AppError(code, message, undefined, 422),
  /** Answered with Retry-After (retryAfterSeconds). */
  unavailable: (message = 'the database does not answer; try again shortly') => new AppError('unavailable', message),

  /** A record search with content clauses that could reach an encrypted type's records (`unheld`: the query names no type; docs/encryption.md). */
  encryptedContent: (types: string[], unheld: boolean) =>
    new AppError('encrypted_content',
      `record type${types.length > 1 ? 's' : ''} ${types.join(', ')} ${types.length > 1 ? 'are' : 'is'} encrypted: ${types.length > 1 ? 'their' : 'its'} content cannot be searched` +
        (unheld ? '; hold the query to other types with a type clause (type:…), or' : ';') + ' look records up by identifier instead',
    ),

  // Retrying a request's failed items (docs/retrying-requests.md).
  notFinished: (id: string, status: string) =>
    new AppError('request_not_finished', `request ${id} is still ${status}: retry its failed items once it has finished`),
  nothingToRetry: (id: string) => new AppError('nothing_to_retry', `request ${id} has no failed items to retry`),
  itemsNotFailed: (items: Array<{ record_id: string; status: string | null }>) =>
    new AppError('items_not_failed',
      `only failed items can be retried; not failed: ${items
        .slice(0, 5)
        .map((i) => `${i.record_id} (${i.status ?? 'not in this request'})`)
        .join(', ')}${items.length > 5 ? ` and ${items.length - 5} more` : ''}`,
      items,
    ),
  alreadyRetried: (id: string, retryId: string) =>
    new AppError('already_retried', `request ${id} was retried already, as request ${retryId}, with other items or options; retry that one, or create a new request`, {
      retry_id: retryId,
    }),

  // Automations (docs/automations.md).
  /** An automation that would close a cycle of automations: `cycle` lists them, the first again last. */
  automationCycle: (description: string, cycle: Array<{ automation_id: string; robot_id: string }>) =>
    new AppError('automation_cycle', `this automation would close a cycle, each triggering the next: ${description}`, { cycle }),

  // Revoking API keys.
  lastAdminKey: () => new AppError('last_admin_key', 'this is the last admin key: make another admin key before revoking it'),
  configuredAdminKey: () =>
    new AppError('configured_admin_key', 'REFINERY_ADMIN_KEY sets this key: give REFINERY_ADMIN_KEY another value and restart Refinery before revoking it'),
};
