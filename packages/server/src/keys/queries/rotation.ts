import type { Queryable } from '../../db/index.ts';
import type { DataKeyRow } from './listDataKeys.ts';

/** Up to `limit` data keys not yet wrapped by master key `to`, in id order after `after`. */
export async function listKeysToRewrap(db: Queryable, p: { to: string; after: string; limit: number }): Promise<DataKeyRow[]> {
  const { rows } = await db.query<DataKeyRow>(
    `
select id, master_key_id, wrapped, next_master_key_id, next_wrapped
from data_keys
where master_key_id <> $1::text and next_master_key_id is distinct from $1::text and id > $2::text
order by id
limit $3::int
`,
    [p.to, p.after, p.limit],
  );
  return rows;
}

/** Stores each data key's wrap by master key `to` beside its current one, in one statement. */
export async function storeNextWraps(db: Queryable, p: { to: string; ids: string[]; wraps: Buffer[] }): Promise<void> {
  await db.query(
    `update data_keys k set next_master_key_id = $1::text, next_wrapped = x.wrapped from unnest($2::text[], $3::bytea[]) as x(id, wrapped) where k.id = x.id`,
    [p.to, p.ids, p.wraps],
  );
}

/** How many data keys master key `to` does not wrap yet, and how many there are. */
export async function countRotation(db: Queryable, p: { to: string }): Promise<{ total: number; left: number; unwrapped: number }> {
  const { rows } = await db.query<{ total: number; left: number; unwrapped: number }>(
    `
select count(*)::int as total,
  (count(*) filter (where master_key_id <> $1::text))::int as left,
  (count(*) filter (where master_key_id <> $1::text and next_master_key_id is distinct from $1::text))::int as unwrapped
from data_keys
`,
    [p.to],
  );
  return rows[0];
}

/**
 * Ends a rotation to master key `to`: when every data key has a wrap by it, that wrap becomes the
 * only one (in one statement); the old master key then opens nothing. False when a data key has
 * none (made meanwhile): it is wrapped first.
 */
export async function finishRotation(db: Queryable, p: { to: string }): Promise<boolean> {
  const { rows } = await db.query<{ unwrapped: number }>(
    `select count(*)::int as unwrapped from data_keys where master_key_id <> $1::text and next_master_key_id is distinct from $1::text`,
    [p.to],
  );
  if (rows[0].unwrapped > 0) return false;
  await db.query(
    `update data_keys set master_key_id = next_master_key_id, wrapped = next_wrapped, next_master_key_id = null, next_wrapped = null where next_master_key_id = $1::text and master_key_id <> $1::text`,
    [p.to],
  );
  return true;
}
