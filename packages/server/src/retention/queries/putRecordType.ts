import type { Queryable } from '../../db/index.ts';
import { recordTypeColumns, type RecordTypeRow } from './recordTypeRow.ts';

/** Sets a record type's retention policy, replacing any it had. */
export async function putRecordType(db: Queryable, p: { type: string; fullUntilMs: number; agedOutMs: number; decay: boolean; now: Date }): Promise<RecordTypeRow> {
  const { rows } = await db.query<RecordTypeRow>(
    `
insert into record_types (type, full_until_ms, aged_out_ms, decay, updated_at)
values ($1::text, $2::bigint, $3::bigint, $4::boolean, $5::timestamptz)
on conflict (type) do update set full_until_ms = excluded.full_until_ms, aged_out_ms = excluded.aged_out_ms, decay = excluded.decay, updated_at = excluded.updated_at
returning ${recordTypeColumns}
`,
    [p.type, p.fullUntilMs, p.agedOutMs, p.decay, p.now.toISOString()],
  );
  return rows[0];
}
