import Type, { type Static } from 'typebox';
import { batchStatuses } from '../states.ts';
import { Duration, StringEnum, Timestamp, Uuid } from './common.ts';
import { maxBatchSizeLimit } from './robots.ts';

export const maxLeaseWaitSeconds = 60;

export const LeaseQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatchSizeLimit, description: 'At most this many items (and never more than the robot\'s max_batch_size).' })),
    lease: Type.Optional(Duration),
    wait: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type LeaseQuery = Static<typeof LeaseQuery>;

export const LeaseHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        'A key for this lease call, new for each call. The call repeated with the same key (its answer lost) gets the same batch again, URLs signed afresh, while that lease is live; once it has lapsed or the batch was handed in, the repeat leases anew.',
    }),
  ),
});

export const Batch = Type.Object({
  id: Uuid,
  status: StringEnum(batchStatuses),
  lease_token: Type.String(),
  lease_expires_at: Timestamp,
  attempt: Type.Integer(),
  item_count: Type.Integer(),
  items_url: Type.String({ description: 'Signed GET: the items file (JSONL).' }),
  results_url: Type.String({ description: 'Signed PUT: where the robot uploads its results file (JSONL).' }),
  report_url: Type.Union([Type.String(), Type.Null()], { description: 'Signed GET: the validation report, once imported.' }),
});
export type Batch = Static<typeof Batch>;

export const RenewQuery = Type.Object({ lease: Type.Optional(Duration) }, { additionalProperties: false });
export const RenewOut = Type.Object({ id: Uuid, lease_expires_at: Timestamp });

export const BatchError = Type.Object(
  {
    message: Type.String({ minLength: 1, maxLength: 4000 }),
    retryable: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export const ResultsIn = Type.Object(
  {
    lease_token: Type.String({ minLength: 1, maxLength: 200 }),
    error: Type.Optional(BatchError),
  },
  { additionalProperties: false },
);
export type ResultsIn = Static<typeof ResultsIn>;
export const ResultsAccepted = Type.Object({ id: Uuid, status: StringEnum(batchStatuses) });
export { Timestamp };
