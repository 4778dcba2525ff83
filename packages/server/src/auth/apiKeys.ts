import { createHash } from 'node:crypto';
import type { Role } from '@refinery/protocol';
import type { Queryable } from '../db/index.ts';
import { newId, newSecret } from '../ids.ts';
import { insertApiKey } from './queries/insertApiKey.ts';

/** API keys are random, so one SHA-256 is a safe way to store them: only the hash is kept. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function createApiKey(db: Queryable, input: { name: string; role: Role; key?: string; now: Date }) {
  const key = input.key ?? newSecret('rk');
  const row = await insertApiKey(db, { id: newId(), name: input.name, role: input.role, keyHash: hashApiKey(key), now: input.now });
  return { ...row, key, created: row !== null };
}
