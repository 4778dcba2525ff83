import Type, { type Static } from 'typebox';
import { Json, Timestamp, Uuid } from './common.ts';

export const EnhancementType = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'e.g. `annotation`, `abstract`.' });

export const Enhancement = Type.Object({
  id: Uuid,
  record_id: Uuid,
  robot_id: Uuid,
  request_id: Uuid,
  batch_id: Uuid,
  type: Type.String(),
  content: Json,
  content_hash: Type.String({ description: 'SHA-256 (hex) of the canonical JSON (RFC 8785) of `content`.' }),
  robot_version: Type.Union([Type.String(), Type.Null()]),
  derived_from: Type.Union([Type.Array(Uuid), Type.Null()]),
  source: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "A DESTINY robot's provenance for it (docs/destiny.md); null from Refinery robots." })),
  visibility: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "A DESTINY robot's visibility for it; null from Refinery robots." })),
  created_at: Timestamp,
});
export type Enhancement = Static<typeof Enhancement>;
