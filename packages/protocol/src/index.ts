/**
 * @refinery/protocol: what the server, the SDK and the tests share.
 *
 * Glossary
 * - record: a thing to enhance (a reference, a photo…): `type`, `identifiers`, `content`.
 * - robot: an external program that enhances records of the types it `accepts`,
 *   producing enhancements of the types it `produces`. It signs its calls (RFC 9421).
 * - request: a requester asking one robot to enhance a set of records. 202 at once; work later.
 * - item: one record inside one request, with its own status, attempts and error.
 * - batch: the items one robot holds at once, under one lease.
 * - lease: a time-bounded claim on a batch, fenced by a `lease_token`; renewable; when it
 *   lapses the items go back to `pending` (attempt + 1) or fail past `max_attempts`.
 * - enhancement: what a robot adds to a record (`type`, `content`); exact duplicates are discarded.
 * - report: per batch, one JSONL line per results line (plus unanswered items): the validation outcome.
 * - manifest: per request, one JSONL line per item, written once when the request finishes.
 * - automation: a standing request: records an import touches that match its trigger and query
 *   become items of a request for its robot.
 */
export * from './states.ts';
export * from './durations.ts';
export * from './hashing.ts';
export * from './files.ts';
export * from './signing.ts';
export * from './push.ts';
export * from './schemas/common.ts';
export * from './schemas/records.ts';
export * from './schemas/enhancements.ts';
export * from './schemas/robots.ts';
export * from './schemas/requests.ts';
export * from './schemas/batches.ts';
export * from './schemas/auth.ts';
export * from './schemas/recordTypes.ts';
export * from './schemas/events.ts';
export * from './schemas/dashboard.ts';
/** DESTINY's protocol, beside Refinery's own (docs/destiny.md): `destiny.Reference`, `destiny.signDestinyRequest`, … */
export * as destiny from './destiny/index.ts';
export * from './schemas/queries.ts';
export * from './errors.ts';
export * from './schemas/automations.ts';
