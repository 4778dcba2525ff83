import Type, { type Static } from 'typebox';
import { visibilities } from '../states.ts';
import { Json, StringEnum, Timestamp, Uuid, Page, PageQuery } from './common.ts';
import { Enhancement } from './enhancements.ts';

export const Identifier = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'e.g. `doi`, `pmid`, `isbn`.' }),
    value: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type Identifier = Static<typeof Identifier>;

export const RecordType = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'e.g. `reference`, `photo`.' });

export const RecordIn = Type.Object(
  {
    type: RecordType,
    identifiers: Type.Array(Identifier, { minItems: 1, maxItems: 50, description: 'At least one; the record is upserted by any of them.' }),
    content: Type.Optional(Json),
    visibility: Type.Optional(StringEnum(visibilities, { default: 'public' })),
    expires_at: Type.Optional(Type.Union([Timestamp, Type.Null()])),
  },
  { additionalProperties: false },
);
export type RecordIn = Static<typeof RecordIn>;

export const RecordOut = Type.Object({
  id: Uuid,
  type: Type.String(),
  identifiers: Type.Array(Identifier),
  content: Json,
  visibility: StringEnum(visibilities),
  created_at: Timestamp,
  updated_at: Timestamp,
  expires_at: Type.Union([Timestamp, Type.Null()]),
});
export type RecordOut = Static<typeof RecordOut>;

export const RecordWithEnhancements = Type.Object({ ...RecordOut.properties, enhancements: Type.Array(Enhancement) });
export type RecordWithEnhancements = Static<typeof RecordWithEnhancements>;

export const ImportRecordsResult = Type.Object({
  ids: Type.Array(Uuid, { description: 'The id of each record, in the order sent.' }),
  created: Type.Integer(),
  updated: Type.Integer(),
  import_id: Type.Optional(Type.String({ format: 'uuid', description: 'Present when the import fires automations: the requests they make name it (docs/automations.md).' })),
});
export type ImportRecordsResult = Static<typeof ImportRecordsResult>;

export const ListRecordsQuery = Type.Object(
  {
    type: Type.Optional(RecordType),
    identifier: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+:.+$', maxLength: 1100, description: '`type:value`, e.g. `doi:10.1000/xyz`.' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type ListRecordsQuery = Static<typeof ListRecordsQuery>;
export const RecordPage = Page(RecordOut);
