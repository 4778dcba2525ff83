import Type, { type Static } from 'typebox';
import { StringEnum, Timestamp, Uuid } from './common.ts';

export const roles = ['admin', 'requester'] as const;
export type Role = (typeof roles)[number];

export const ApiKeyIn = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), role: Type.Optional(StringEnum(roles, { default: 'requester' })) },
  { additionalProperties: false },
);
export const ApiKeyOut = Type.Object({ id: Uuid, name: Type.String(), role: StringEnum(roles), created_at: Timestamp });
export const ProvisionedApiKey = Type.Object({ ...ApiKeyOut.properties, key: Type.String({ description: 'Shown once. Send as `Authorization: Bearer <key>`.' }) });
export type ProvisionedApiKey = Static<typeof ProvisionedApiKey>;
export const RevokedApiKey = Type.Object({ ...ApiKeyOut.properties, revoked_at: Timestamp });
export type RevokedApiKey = Static<typeof RevokedApiKey>;
