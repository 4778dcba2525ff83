import Type, { type Static } from 'typebox';
import { Duration, StringEnum, Timestamp, Uuid } from './common.ts';
import { RecordType } from './records.ts';
import { EnhancementType } from './enhancements.ts';

export const robotDefaults = { maxBatchSize: 1000, lease: 'PT10M', maxAttempts: 3, secretGrace: 'PT1H' } as const;
export const maxBatchSizeLimit = 10_000;

export const Produces = Type.Object(
  {
    type: EnhancementType,
    schema: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'JSON Schema (draft 2020-12 subset Ajv knows) the `content` must satisfy.' })),
  },
  { additionalProperties: false },
);
export type Produces = Static<typeof Produces>;

export const Delivery = Type.Union([
  Type.Object({ mode: Type.Literal('pull') }, { additionalProperties: false }),
  Type.Object({ mode: Type.Literal('push'), url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 }) }, { additionalProperties: false }),
]);
export type Delivery = Static<typeof Delivery>;

const robotFields = {
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]*$' }),
  owner: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  accepts: Type.Array(RecordType, { minItems: 1, maxItems: 50, uniqueItems: true, description: 'Record types the robot enhances.' }),
  produces: Type.Array(Produces, { minItems: 1, maxItems: 50, description: 'Enhancement types the robot writes.' }),
  needs: Type.Optional(Type.Array(EnhancementType, { maxItems: 50, uniqueItems: true, description: 'Enhancement types included with each record in the items file.' })),
  delivery: Type.Optional(Delivery),
  max_batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatchSizeLimit, default: robotDefaults.maxBatchSize })),
  lease: Type.Optional(Duration),
  max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: robotDefaults.maxAttempts })),
};

export const RobotIn = Type.Object(robotFields, { additionalProperties: false });
export type RobotIn = Static<typeof RobotIn>;

export const RobotPatch = Type.Object(
  {
    name: Type.Optional(robotFields.name),
    owner: robotFields.owner,
    description: robotFields.description,
    accepts: Type.Optional(robotFields.accepts),
    produces: Type.Optional(robotFields.produces),
    needs: robotFields.needs,
    delivery: robotFields.delivery,
    // No defaults here: Ajv (useDefaults) would fill them in and every PATCH would reset them.
    max_batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBatchSizeLimit })),
    lease: robotFields.lease,
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    active: Type.Optional(Type.Boolean({ description: '`false` pauses the robot: it leases nothing and new requests for it are refused.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type RobotPatch = Static<typeof RobotPatch>;

export const RobotOut = Type.Object({
  id: Uuid,
  name: Type.String(),
  owner: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  accepts: Type.Array(Type.String()),
  produces: Type.Array(Produces),
  needs: Type.Array(Type.String()),
  delivery: Delivery,
  max_batch_size: Type.Integer(),
  lease: Type.String({ description: 'Default lease, ISO 8601.' }),
  max_attempts: Type.Integer(),
  active: Type.Boolean(),
  protocol: StringEnum(['refinery', 'destiny'] as const, { description: "The protocol the robot speaks: Refinery's, or DESTINY's when registered through POST /v1/robots/ (docs/destiny.md)." }),
  secrets: Type.Array(Type.Object({ created_at: Timestamp, expires_at: Type.Union([Timestamp, Type.Null()]) }), { description: 'The live secrets (never their values).' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type RobotOut = Static<typeof RobotOut>;

export const ProvisionedRobot = Type.Object({ ...RobotOut.properties, secret: Type.String({ description: 'Shown once. Sign with it.' }) });
export type ProvisionedRobot = Static<typeof ProvisionedRobot>;

export const RotateSecretBody = Type.Object(
  { grace: Type.Optional(Duration) },
  { additionalProperties: false, description: 'How long the previous secret keeps working (default PT1H).' },
);
