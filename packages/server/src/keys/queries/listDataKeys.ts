import type { Queryable } from '../../db/index.ts';

export interface DataKeyRow {
  id: string;
  master_key_id: string;
  wrapped: Uint8Array;
  next_master_key_id: string | null;
  next_wrapped: Uint8Array | null;
}

/** Every data key, oldest first. */
export async function listDataKeys(db: Queryable): Promise<DataKeyRow[]> {
  const { rows } = await db.query<DataKeyRow>(`select id, master_key_id, wrapped, next_master_key_id, next_wrapped from data_keys order by created_at, id`);
  return rows;
}
