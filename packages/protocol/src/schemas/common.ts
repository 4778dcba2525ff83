import Type, { type Static, type TSchema } from 'typebox';
import { durationPattern } from '../durations.ts';
import { apiErrors, itemErrors, type ApiErrorCode, type ItemErrorCode } from '../errors.ts';

/**
 * The one form of id Refinery reads, wherever a caller sends one: 8-4-4-4-12 hex digits, in
 * either case. The other forms a UUID parser may take (`urn:uuid:`, which the "uuid" format of
 * JSON Schema allows; braces, no hyphens, which PostgreSQL takes) are refused.
 */
const uuidSource = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** A UUID in its text form, for checks outside a schema. */
export const uuidPattern = new RegExp(uuidSource);
/** A UUID; the server takes it in lower case (`x-lowercase`), the case it writes ids in, so that an id compares equal to itself however it was sent. */
export const Uuid = Type.String({ format: 'uuid', pattern: uuidSource, 'x-lowercase': true, description: 'A UUID (Refinery makes UUIDv7).' });
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 time.' });
export const Duration = Type.String({
  pattern: durationPattern,
  description: 'ISO 8601 duration (`PT10M`) or plain seconds (`600`).',
});
export const Cursor = Type.String({ minLength: 1, maxLength: 200, description: 'Opaque cursor from `next_cursor`.' });
export const Json = Type.Unknown({ description: 'Any JSON value.' });

export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: StringEnum(Object.keys(apiErrors) as ApiErrorCode[], { description: 'Stable, machine-readable code, e.g. `not_found`; each is listed in docs/errors.md with its status and meaning.' }),
      message: Type.String({ description: 'What went wrong, for a person.' }),
      details: Type.Optional(Json),
    }),
  },
  { $id: 'ErrorBody' },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** The code of an item's error (docs/errors.md). */
export const ItemErrorCodeSchema = StringEnum(Object.keys(itemErrors) as ItemErrorCode[], { description: "Why the item failed, was denied, expired or was cancelled, or why its last attempt did not end it; each is listed in docs/errors.md." });

export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    data: Type.Array(item),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last.' }),
  });
}

export const PageQuery = {
  cursor: Type.Optional(Cursor),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
};

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });
