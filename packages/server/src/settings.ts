import { randomBytes } from 'node:crypto';
import type { Queryable } from './db/db.ts';

/**
 * A setting shared by every process on the database, made once: the first process to ask
 * stores `make()`'s value; all later ones read it.
 */
export async function sharedSetting(db: Queryable, key: string, make: () => string): Promise<string> {
  await db.query(`insert into settings (key, value) values ($1::text, $2::text) on conflict (key) do nothing`, [key, make()]);
  const { rows } = await db.query<{ value: string }>(`select value from settings where key = $1::text`, [key]);
  return rows[0].value;
}

export const randomKey = () => randomBytes(32).toString('base64url');
