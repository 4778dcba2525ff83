import Type, { type Static } from 'typebox';
import { RecordType } from './records.ts';
import type { RecordFilter } from './queries.ts';
import { Page, PageQuery, Timestamp, Uuid } from './common.ts';

/** What fires an automation: new records of a type, enhancements of a type (optionally from one robot), or both. */
export const AutomationTrigger = Type.Object(
  {
    records: Type.Optional(Type.Object({ type: RecordType }, { additionalProperties: false, description: 'Records of this type that an import creates.' })),
    enhancements: Type.Optional(
      Type.Object(
        { type: Type.String({ minLength: 1, maxLength: 100 }), robot_id: Type.Optional(Uuid) },
        { additionalProperties: false, description: 'Enhancements of this type that a batch imports, from any robot but the automation\'s own, or from `robot_id` only.' },
      ),
    ),
  },
  { additionalProperties: false, minProperties: 1, description: 'One or both; a record that either fires, and the query matches, becomes an item.' },
);
export type AutomationTrigger = Static<typeof AutomationTrigger>;

const queryFields = {
  query: Type.Optional(Type.String({ minLength: 1, description: 'Narrows the trigger: a Lucene-style record query (docs/queries.md), matched against each record it fires for.' })),
  filter: Type.Optional(Type.Unsafe<RecordFilter>({ $ref: '#/components/schemas/RecordFilter', description: 'The same as a RecordFilter; send `query` or `filter`, not both.' })),
};

export const AutomationIn = Type.Object(
  {
    robot_id: Uuid,
    trigger: AutomationTrigger,
    ...queryFields,
    active: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export type AutomationIn = Static<typeof AutomationIn>;

export const AutomationPatch = Type.Object(
  { active: Type.Optional(Type.Boolean({ description: 'false pauses it (nothing is gathered), true resumes it.' })) },
  { additionalProperties: false },
);
export type AutomationPatch = Static<typeof AutomationPatch>;

/** One request an automation made: from which imports, with how many items. */
export const AutomationRun = Type.Object({
  request_id: Type.Union([Uuid, Type.Null()], { description: 'Null while it is being made, or when it could not be (`error`).' }),
  item_count: Type.Integer(),
  triggered_by: Type.Array(Type.Object({ kind: Type.Union([Type.Literal('records'), Type.Literal('batch')]), id: Uuid })),
  depth: Type.Integer({ description: 'Automated requests in the chain up to and including this one.' }),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});
export type AutomationRun = Static<typeof AutomationRun>;

export const AutomationOut = Type.Object({
  id: Uuid,
  robot_id: Uuid,
  trigger: AutomationTrigger,
  query: Type.Union([Type.String(), Type.Null()]),
  filter: Type.Unsafe<RecordFilter | null>({ description: 'The RecordFilter the query says (docs/queries.md); null when there is none.' }),
  active: Type.Boolean(),
  created_by: Type.String(),
  last_error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last time it fired made no request (a chain cut off, a robot paused), if it did not.' }),
  last_error_at: Type.Union([Timestamp, Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  triggered: Type.Object({
    requests: Type.Integer({ description: 'Requests it has made.' }),
    items: Type.Integer({ description: 'Items in them.' }),
    waiting: Type.Integer({ description: 'Records matched and waiting for the window to close.' }),
    recent: Type.Array(AutomationRun, { description: 'The latest 20, newest first.' }),
  }),
});
export type AutomationOut = Static<typeof AutomationOut>;

export const AutomationPage = Page(Type.Omit(AutomationOut, ['triggered']));
export const ListAutomationsQuery = Type.Object({ robot_id: Type.Optional(Uuid), ...PageQuery }, { additionalProperties: false });

/** On a request an automation made: which, and what triggered it. */
export const RequestProvenance = Type.Object({
  automation_id: Uuid,
  triggered_by: AutomationRun.properties.triggered_by,
  depth: Type.Integer(),
});
export type RequestProvenance = Static<typeof RequestProvenance>;
