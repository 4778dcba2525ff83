import Type, { type Static } from 'typebox';
import { durationPattern } from '../durations.ts';
import { Timestamp } from './common.ts';
import { RecordType } from './records.ts';

/**
 * A record type's retention policy. Age is counted from the record's `created_at` (re-sending or
 * enhancing a record does not make it younger). Until `full_until` a record is fully available;
 * from `aged_out` new items for it are `expired` and the cleanup removes it; in between, with
 * `decay`, a new item is `denied` with probability (age − full_until) / (aged_out − full_until).
 */
export const RetentionIn = Type.Object(
  {
    full_until: Type.Optional(Type.String({ pattern: durationPattern, description: 'Fully available until this age (default: `aged_out`, no decay window).' })),
    aged_out: Type.String({ pattern: durationPattern, description: 'Aged out from this age: ISO 8601 (`PT90M`) or seconds.' }),
    decay: Type.Optional(Type.Boolean({ default: false, description: 'Between `full_until` and `aged_out`, deny new items with a probability growing linearly from 0 to 1.' })),
  },
  { additionalProperties: false },
);
export type RetentionIn = Static<typeof RetentionIn>;

export const RecordTypePut = Type.Object(
  {
    retention: Type.Optional(Type.Union([RetentionIn, Type.Null()], { description: '`null` removes the policy: records of this type never age out. Left out: unchanged.' })),
    encrypted: Type.Optional(
      Type.Boolean({
        description:
          "`true`: the content of this type's records is stored encrypted (docs/encryption.md); records stored before are encrypted in the background. Once set it stays set. Left out: unchanged.",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type RecordTypePut = Static<typeof RecordTypePut>;

export const RetentionOut = Type.Object({
  full_until: Type.String({ description: 'ISO 8601.' }),
  aged_out: Type.String({ description: 'ISO 8601.' }),
  decay: Type.Boolean(),
});
export type RetentionOut = Static<typeof RetentionOut>;

/** The encryption of a type's stored records: `encrypting` while records stored before it was marked are still being encrypted. */
export const EncryptionOut = Type.Object({
  status: Type.Union([Type.Literal('encrypting'), Type.Literal('encrypted')]),
  records_pending: Type.Integer({ description: 'Records of the type not encrypted yet.' }),
});
export type EncryptionOut = Static<typeof EncryptionOut>;

export const RecordTypeOut = Type.Object({
  type: Type.String(),
  retention: Type.Union([RetentionOut, Type.Null()]),
  encrypted: Type.Boolean(),
  encryption: Type.Union([EncryptionOut, Type.Null()], { description: 'Null when the type is not encrypted.' }),
  updated_at: Type.Union([Timestamp, Type.Null()]),
});
export type RecordTypeOut = Static<typeof RecordTypeOut>;

export const RecordTypeParams = Type.Object({ type: RecordType }, { additionalProperties: false });
export const RecordTypeList = Type.Object({ data: Type.Array(RecordTypeOut) });
