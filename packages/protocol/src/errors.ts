/**
 * Every error code Refinery answers with, and every code an item's error carries, declared once:
 * the server raises only these, the OpenAPI document lists them, and docs/errors.md is made from
 * them (`npm run docs:errors`).
 */

/** An error answered as `{"error":{"code","message","details"?}}`, with the HTTP status it comes with. */
export interface ApiErrorDeclaration {
  status: number;
  meaning: string;
}

export const apiErrors = {
  invalid_request: { status: 400, meaning: 'The body, query string, path or a header does not fit the route; `details` says where. Nothing changed.' },
  malformed_json: { status: 400, meaning: 'The body is not valid JSON (or a JSONL line is not).' },
  invalid_query: { status: 400, meaning: 'A record query cannot be run; `details` gives the `offset` into the query string or the `pointer` into the body.' },
  invalid_cursor: { status: 400, meaning: 'The cursor is not one this API gave out.' },
  encrypted_content: { status: 400, meaning: 'A query reads the content of an encrypted record type; look such records up by identifier instead.' },
  bad_http: { status: 400, meaning: 'What arrived is not valid HTTP/1.1 (broken chunking, garbage); the connection is closed.' },
  unauthorized: { status: 401, meaning: 'No API key, or not a valid one.' },
  bad_signature: { status: 401, meaning: "A robot's call is unsigned, or its signature is stale, replayed, or does not match the request." },
  forbidden: { status: 403, meaning: "The key's role may not do this, or a signed URL is expired or does not match." },
  not_found: { status: 404, meaning: 'No such thing, or not the caller\'s to see; or no such route.' },
  body_timeout: { status: 408, meaning: 'The request body stalled for longer than REFINERY_BODY_TIMEOUT; the connection is closed.' },
  request_timeout: { status: 408, meaning: 'The request headers did not arrive in time; the connection is closed.' },
  identifier_conflict: { status: 409, meaning: 'An imported record names identifiers that belong to different stored records; `details` names them. Nothing changed.' },
  name_taken: { status: 409, meaning: 'Another robot has this name.' },
  already_finished: { status: 409, meaning: 'The request has finished already; it cannot be cancelled.' },
  lease_expired: { status: 409, meaning: "The batch's lease has lapsed (or the batch was handed in otherwise); its results are not taken." },
  lease_token_mismatch: { status: 409, meaning: "The lease token is not the batch's current one." },
  results_already_posted: { status: 409, meaning: 'The batch was handed in already (results or an error); nothing was imported.' },
  results_missing: { status: 409, meaning: 'Results were posted before the results file was uploaded.' },
  request_cancelled: { status: 409, meaning: 'The batch\'s request was cancelled while the robot held it.' },
  request_expired: { status: 409, meaning: "The batch's request passed its deadline while the robot held it." },
  push_robot: { status: 409, meaning: 'The robot takes its batches by push; it cannot lease.' },
  destiny_robot: { status: 409, meaning: "The robot speaks DESTINY's protocol; use its routes (docs/destiny.md)." },
  refinery_robot: { status: 409, meaning: "The robot speaks Refinery's protocol, not DESTINY's." },
  encryption_changed: { status: 409, meaning: 'A record type was marked encrypted while this import was read; send it again.' },
  request_not_finished: { status: 409, meaning: 'The request is still open; its failed items can be retried once it has finished.' },
  nothing_to_retry: { status: 409, meaning: 'The request has no failed items to retry.' },
  items_not_failed: { status: 409, meaning: 'Only failed items can be retried; `details` lists those that are not.' },
  already_retried: { status: 409, meaning: 'The request was retried already, with other items or options; `details.retry_id` is that retry.' },
  last_admin_key: { status: 409, meaning: 'The last admin key cannot be revoked.' },
  configured_admin_key: { status: 409, meaning: 'REFINERY_ADMIN_KEY sets this key; change that setting before revoking it.' },
  payload_too_large: { status: 413, meaning: 'The body, or a line of it, is larger than the limit.' },
  unsupported_media_type: { status: 415, meaning: 'The Content-Type is not one the route takes.' },
  unknown_robot: { status: 422, meaning: 'No robot has this id.' },
  robot_paused: { status: 422, meaning: 'The robot is paused; it takes no new requests.' },
  invalid_ttl: { status: 422, meaning: 'The time to live is zero or longer than 366 days.' },
  ttl_and_expires_at: { status: 422, meaning: 'Send a time to live or a deadline, not both.' },
  expires_in_past: { status: 422, meaning: 'The deadline has passed already.' },
  idempotency_key_reused: { status: 422, meaning: 'This Idempotency-Key was used for a different request.' },
  duplicate_type: { status: 422, meaning: 'A robot names an enhancement type twice in `produces`.' },
  invalid_schema: { status: 422, meaning: 'A JSON Schema given is not one Refinery can check content with.' },
  invalid_retention: { status: 422, meaning: 'The retention settings contradict each other (e.g. decay past ageing out).' },
  encryption_is_permanent: { status: 422, meaning: 'A record type that is encrypted cannot be made plain again.' },
  query_timeout: { status: 422, meaning: 'The search ran past REFINERY_SEARCH_TIMEOUT and was stopped; narrow it with an indexed clause.' },
  type_not_accepted: { status: 422, meaning: "An automation's trigger names a record type its robot does not accept." },
  automation_cycle: { status: 422, meaning: 'An automation would close a cycle of automations, each triggering the next; `details.cycle` names them.' },
  unsupported_query: { status: 422, meaning: 'DESTINY routes: a percolator query Refinery cannot map to an automation; the message says where.' },
  invalid_identifier: { status: 422, meaning: 'DESTINY routes: an identifier has no Refinery form.' },
  invalid_lease: { status: 422, meaning: 'DESTINY routes: the lease duration is not one DESTINY takes.' },
  unknown_references: { status: 422, meaning: 'DESTINY routes: reference ids that do not exist.' },
  repeated_reference_ids: { status: 422, meaning: 'DESTINY routes: a reference id given twice.' },
  headers_too_large: { status: 431, meaning: 'The request headers are larger than 16 KB; the connection is closed.' },
  client_closed_request: { status: 499, meaning: 'Logged only: the client closed the connection before its request was sent.' },
  internal: { status: 500, meaning: 'A fault on Refinery\'s side; the request id is in `x-request-id` and in the log.' },
  unavailable: { status: 503, meaning: 'The database does not answer, or Refinery is shutting down; `Retry-After` says when to try again.' },
} as const satisfies Record<string, ApiErrorDeclaration>;

export type ApiErrorCode = keyof typeof apiErrors;

/** The codes of an item's `error` (GET /v1/requests/{id}/items, manifests). An item waiting for another attempt keeps its last error. */
export const itemErrors = {
  record_not_found: { meaning: 'The record does not exist.' },
  type_not_accepted: { meaning: "The robot does not accept this record's type." },
  record_hidden: { meaning: 'The record is hidden, so no robot may read it.' },
  record_decayed: { meaning: "The record is decaying (its type's retention) and was not drawn for parsing." },
  record_expired: { meaning: 'The record passed its own expiry.' },
  record_aged_out: { meaning: "The record is older than its type's retention keeps." },
  request_expired: { meaning: 'The request passed its deadline before the item was done.' },
  request_cancelled: { meaning: 'The request was cancelled before the item was done.' },
  robot_error: { meaning: 'The robot reported an error for this record or its batch (its message is the robot\'s); retried while attempts remain when it said retryable.' },
  rejected: { meaning: "The robot's results line for this record did not validate; the message says which line and why." },
  record_gone: { meaning: 'The record was deleted before its enhancement could be imported.' },
  lease_expired: { meaning: 'The lease lapsed before results arrived.' },
  missing: { meaning: 'The robot answered its batch without a line for this record.' },
  delivery_failed: { meaning: "A push robot's endpoint did not take the batch." },
  delivery_interrupted: { meaning: 'A push delivery was cut off (Refinery stopping); the batch is offered again.' },
  robot_busy: { meaning: 'A push robot answered that it is busy; the batch is offered again after its Retry-After.' },
} as const satisfies Record<string, { meaning: string }>;

export type ItemErrorCode = keyof typeof itemErrors;

export const isApiErrorCode = (code: string): code is ApiErrorCode => Object.hasOwn(apiErrors, code);
export const isItemErrorCode = (code: string): code is ItemErrorCode => Object.hasOwn(itemErrors, code);
