import Type, { type Static } from 'typebox';
import { visibilities } from '../states.ts';
import { Cursor, Json, Page, StringEnum, Timestamp, Uuid } from './common.ts';
import { RecordOut } from './records.ts';

/**
 * A record filter: the canonical form of a record query (docs/queries.md). The Lucene-style query
 * string parses to one of these. Each node is an object of exactly one key.
 */
export type RecordFilter =
  | { and: RecordFilter[] }
  | { or: RecordFilter[] }
  | { not: RecordFilter }
  | { type: string }
  | { identifier: { type: string; value?: string } }
  | { content: ContentClause }
  | { has_enhancement: { type: string; robot_id?: string; newer_than?: string } }
  | { visibility: (typeof visibilities)[number] }
  | { created_at: TimeRange }
  | { updated_at: TimeRange };

/** A test of the value(s) at `path` in a record's content: exactly one of eq, in, a range, contains or exists. */
export interface ContentClause {
  /** Keys and array positions, dot-separated: `authors.0.name`. Arrays on the way are searched element by element. */
  path: string;
  eq?: unknown;
  in?: unknown[];
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  contains?: string;
  exists?: boolean;
}

export interface TimeRange {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
}

const bounds = <T extends ReturnType<typeof Type.Number> | typeof Timestamp>(bound: T) => ({
  gt: Type.Optional(bound),
  gte: Type.Optional(bound),
  lt: Type.Optional(bound),
  lte: Type.Optional(bound),
});
const TimeRangeSchema = Type.Object(bounds(Timestamp), { additionalProperties: false, minProperties: 1 });
const child = Type.Unsafe<RecordFilter>({ $ref: '#/components/schemas/RecordFilter', description: 'A RecordFilter.' });

/**
 * The schema of a RecordFilter, for the OpenAPI document and clients. The server checks filters
 * itself (records/search/checkFilter.ts), to answer each mistake with where it is.
 */
export const RecordFilter = Type.Union(
  [
    Type.Object({ and: Type.Array(child, { minItems: 1 }) }, { additionalProperties: false }),
    Type.Object({ or: Type.Array(child, { minItems: 1 }) }, { additionalProperties: false }),
    Type.Object({ not: child }, { additionalProperties: false }),
    Type.Object({ type: Type.String({ description: 'The record type.' }) }, { additionalProperties: false }),
    Type.Object(
      { identifier: Type.Object({ type: Type.String(), value: Type.Optional(Type.String()) }, { additionalProperties: false, description: 'Holds an identifier of this type (and value).' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        content: Type.Object(
          {
            path: Type.String({ description: 'Keys and array positions, dot-separated: `authors.0.name`.' }),
            eq: Type.Optional(Json),
            in: Type.Optional(Type.Array(Json, { minItems: 1 })),
            ...bounds(Type.Number()),
            contains: Type.Optional(Type.String({ minLength: 1, description: 'Text the string contains, any case.' })),
            exists: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, description: 'Exactly one of eq, in, a range (gt/gte/lt/lte, numbers), contains or exists.' },
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        has_enhancement: Type.Object(
          { type: Type.String(), robot_id: Type.Optional(Uuid), newer_than: Type.Optional(Timestamp) },
          { additionalProperties: false, description: 'Has an enhancement of this type, from this robot, made after this time.' },
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object({ visibility: StringEnum(visibilities) }, { additionalProperties: false }),
    Type.Object({ created_at: TimeRangeSchema }, { additionalProperties: false }),
    Type.Object({ updated_at: TimeRangeSchema }, { additionalProperties: false }),
  ],
  { description: 'A record filter (docs/queries.md): an object of exactly one key.' },
);

export const SearchRecordsBody = Type.Object(
  {
    query: Type.Optional(Type.String({ minLength: 1, description: 'A Lucene-style query string, e.g. `type:reference AND content.year:>=2020` (docs/queries.md).' })),
    filter: Type.Optional(Type.Unsafe<RecordFilter>({ $ref: '#/components/schemas/RecordFilter', description: 'The same, as a RecordFilter. Send `query` or `filter`.' })),
    count_only: Type.Optional(Type.Boolean({ description: 'Answer `{count}` alone; past the cap, `{count, lower_bound: true}`.' })),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
export type SearchRecordsBody = Static<typeof SearchRecordsBody>;

export const RecordCount = Type.Object({
  count: Type.Integer({ description: 'How many records match; with `lower_bound`, at least this many.' }),
  lower_bound: Type.Optional(Type.Boolean({ description: 'Present (true) when the count stopped at the cap (REFINERY_SEARCH_COUNT_CAP).' })),
});
export type RecordCount = Static<typeof RecordCount>;

export const RecordSearchPage = Page(RecordOut);
