import { randomBytes } from 'node:crypto';
import type { Queryable } from './db/index.ts';
import { isSealed, type Keyring } from './keys/index.ts';

/**
 * A setting shared by every process on the database, made once: the first process to ask
 * stores `make()`'s value; all later ones read it.
 */
export async function sharedSetting(db: Queryable, key: string, make: () => string): Promise<string> {
  await db.query(`insert into settings (key, value) values ($1::text, $2::text) on conflict (key) do nothing`, [key, make()]);
  const { rows } = await db.query<{ value: string }>(`select value from settings where key = $1::text`, [key]);
  return rows[0].value;
}

/**
 * A secret setting shared by every process (the blob URLs' signing key), made once and stored
 * sealed (docs/encryption.md). One stored in clear by an earlier version is sealed where it stands.
 */
export async function sharedSecret(db: Queryable, keys: Keyring, key: string, make: () => string): Promise<string> {
  const context = `setting ${key}`;
  const stored = await sharedSetting(db, key, () => keys.seal(make(), context));
  if (isSealed(stored)) return keys.open(stored, context);
  await db.query(`update settings set value = $2::text where key = $1::text and value = $3::text`, [key, keys.seal(stored, context), stored]);
  return stored;
}

export const randomKey = () => randomBytes(32).toString('base64url');
