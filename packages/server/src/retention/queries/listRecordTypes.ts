import type { Queryable } from '../../db/index.ts';
import { recordTypeColumns, type RecordTypeRow } from './recordTypeRow.ts';

/** The record types that carry a retention policy (one, with `type`), by name. */
export async function listRecordTypes(db: Queryable, p: { type?: string } = {}): Promise<RecordTypeRow[]> {
  const { rows } = await db.query<RecordTypeRow>(`select ${recordTypeColumns} from record_types where $1::text is null or type = $1::text order by type`, [p.type ?? null]);
  return rows;
}
