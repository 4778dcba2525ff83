import Type, { type Static } from 'typebox';
import { durationPattern } from '../durations.ts';
import { itemStatuses, priorities, requestStatuses } from '../states.ts';
import { RequestProvenance } from './automations.ts';
import { Cursor, ItemErrorCodeSchema, Page, PageQuery, StringEnum, Timestamp, Uuid } from './common.ts';
import type { RecordFilter } from './queries.ts';

export const maxRecordsPerRequest = 1_000_000;

export const RequestIn = Type.Object(
  {
    robot_id: Uuid,
    record_ids: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: maxRecordsPerRequest, description: 'The records to enhance; or send `query` or `filter` instead (one of the three).' })),
    query: Type.Optional(Type.String({ minLength: 1, description: 'Every record this Lucene-style query matches (docs/queries.md), instead of `record_ids`.' })),
    filter: Type.Optional(Type.Unsafe<RecordFilter>({ $ref: '#/components/schemas/RecordFilter', description: 'The same as a RecordFilter, instead of `record_ids`.' })),
    dry_run: Type.Optional(Type.Boolean({ description: 'With `query` or `filter`: answer 200 `{count}` (as a search\'s `count_only`) and create nothing.' })),
    priority: Type.Optional(StringEnum(priorities, { default: 'normal' })),
    expires_at: Type.Optional(Timestamp),
    ttl: Type.Optional(Type.String({ pattern: durationPattern, description: 'Deadline as a time from now, ISO 8601 (`PT1H`) or seconds; instead of expires_at, not both.' })),
    callback_url: Type.Optional(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 })),
  },
  { additionalProperties: false },
);
export type RequestIn = Static<typeof RequestIn>;

/** Record ids a retry may name; without `record_ids` it takes every failed item, however many. */
export const maxRecordsPerRetry = 10_000;

export const RetryIn = Type.Object(
  {
    record_ids: Type.Optional(
      Type.Array(Uuid, { minItems: 1, maxItems: maxRecordsPerRetry, description: 'Only these of the failed items (record ids); every failed item when left out.' }),
    ),
    priority: Type.Optional(StringEnum(priorities, { description: "The retry's priority; the original's when left out." })),
    expires_at: Type.Optional(Timestamp),
    ttl: Type.Optional(Type.String({ pattern: durationPattern, description: 'Deadline as a time from now; instead of expires_at. Without either the retry has no deadline.' })),
  },
  { additionalProperties: false },
);
export type RetryIn = Static<typeof RetryIn>;

export const ItemCounts = Type.Object(
  Object.fromEntries(itemStatuses.map((s) => [s, Type.Integer({ minimum: 0 })])) as Record<(typeof itemStatuses)[number], ReturnType<typeof Type.Integer>>,
);
export type ItemCounts = Static<typeof ItemCounts>;

export const RequestOut = Type.Object({
  id: Uuid,
  robot_id: Uuid,
  requested_by: Type.String(),
  priority: StringEnum(priorities),
  status: StringEnum(requestStatuses),
  total: Type.Integer(),
  counts: ItemCounts,
  progress: Type.Number({ minimum: 0, maximum: 1, description: 'Share of items in a final state.' }),
  expires_at: Type.Union([Timestamp, Type.Null()]),
  callback_url: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  started_at: Type.Union([Timestamp, Type.Null()]),
  finished_at: Type.Union([Timestamp, Type.Null()]),
  manifest_url: Type.Union([Type.String(), Type.Null()], { description: 'Signed link to the manifest (JSONL) once the request is final.' }),
  retry_of: Type.Union([Uuid, Type.Null()], { description: 'The request whose failed items this one retries (`POST /v1/requests/{id}/retry`); null otherwise.' }),
  query: Type.Union([Type.String(), Type.Null()], { description: 'The query string the request was made with; null otherwise.' }),
  filter: Type.Unsafe<RecordFilter | null>({ description: 'The RecordFilter the request was made with (its `query` read into one); null for a request of `record_ids`.' }),
  matched: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'How many records the query matched when the request was made: one item each; null for a request of `record_ids`.' }),
  automation: Type.Optional(
    Type.Union([RequestProvenance, Type.Null()], { description: 'On `GET /v1/requests/{id}`: the automation that made this request and the imports that triggered it (docs/automations.md); null for a request made by a caller.' }),
  ),
});
export type RequestOut = Static<typeof RequestOut>;

export const ItemError = Type.Object({ code: ItemErrorCodeSchema, message: Type.String() });
export type ItemError = Static<typeof ItemError>;

export const ItemOut = Type.Object({
  record_id: Uuid,
  status: StringEnum(itemStatuses),
  attempts: Type.Integer(),
  batch_id: Type.Union([Uuid, Type.Null()]),
  error: Type.Union([ItemError, Type.Null()]),
  updated_at: Timestamp,
});
export type ItemOut = Static<typeof ItemOut>;

export const ListItemsQuery = Type.Object({ status: Type.Optional(StringEnum(itemStatuses)), ...PageQuery }, { additionalProperties: false });
export const ItemPage = Page(ItemOut);

export const ListRequestsQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(requestStatuses)),
    robot_id: Type.Optional(Uuid),
    requested_by: Type.Optional(Uuid),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export const RequestPage = Page(RequestOut);

export const RequestBatchOut = Type.Object({
  id: Uuid,
  status: Type.String(),
  attempt: Type.Integer(),
  item_count: Type.Integer(),
  created_at: Timestamp,
  report_url: Type.Union([Type.String(), Type.Null()], { description: 'Signed GET: the validation report; null before the import and once the files are deleted.' }),
  files_deleted_at: Type.Union([Timestamp, Type.Null()], {
    description: "When the batch's files (items, results, report) were deleted, its retention past (docs/retention.md); null while they are kept.",
  }),
});
export const RequestBatchPage = Page(RequestBatchOut);
export { Cursor };
