import type { Queryable } from '../../db/index.ts';

export interface NewEnhancement {
  id: string;
  record_id: string;
  request_id: string;
  type: string;
  content: unknown;
  content_hash: string;
  robot_version: string | null;
  derived_from: string[] | null;
  /** What a DESTINY robot said of it (docs/destiny.md); absent from Refinery robots. */
  source?: string;
  visibility?: string;
}

export interface EnhancementOutcome {
  record_id: string;
  enhancement_id: string | null;
  outcome: 'imported' | 'discarded' | 'record_gone';
}

/**
 * Inserts enhancements set-based. An exact duplicate (same record, type and content hash) is
 * discarded, unless it came from this same batch (an import resumed after a crash): then it
 * counts as imported, so resuming gives the same outcome as the first run would have.
 * Only records this statement sees get enhancements, and no record is locked: the retention
 * cleanup, the one place records are deleted, waits for every transaction that inserted into
 * enhancements before it deletes theirs (deleteAgedOutRecords), so none is left without its
 * record. Locking the 1,000 records of a batch instead would cost a tuple header and a WAL record
 * each (docs/internals/0004-ids-without-foreign-keys.md).
 *
 * Usually every enhancement is inserted, and the insert's returned rows say so. Only the ones it
 * skipped are looked up, in a second statement, whose snapshot also sees a duplicate that another
 * transaction committed while the insert waited on it. Judging every row in the insert itself (a
 * join to the inserted rows and a probe per row) was slower.
 */
export async function insertEnhancements(db: Queryable, p: { robotId: string; batchId: string; enhancements: NewEnhancement[]; now: Date }): Promise<EnhancementOutcome[]> {
  const { rows: inserted } = await db.query<{ record_id: string; id: string }>(
    `
insert into enhancements (id, record_id, robot_id, request_id, batch_id, type, content, content_hash, robot_version, derived_from, source, visibility, created_at)
select x.id, x.record_id, $2::uuid, x.request_id, $3::uuid, x.type, x.content, x.content_hash, x.robot_version, x.derived_from, x.source, x.visibility, $4::timestamptz
from jsonb_to_recordset($1::jsonb)
  as x(id uuid, record_id uuid, request_id uuid, type text, content jsonb, content_hash text, robot_version text, derived_from uuid[], source text, visibility text)
where exists (select 1 from records r where r.id = x.record_id)
on conflict (record_id, type, content_hash) do nothing
returning record_id::text, id::text
`,
    [JSON.stringify(p.enhancements), p.robotId, p.batchId, p.now.toISOString()],
  );
  const outcomes: EnhancementOutcome[] = inserted.map((r) => ({ record_id: r.record_id, enhancement_id: r.id, outcome: 'imported' }));
  if (inserted.length === p.enhancements.length) return outcomes;
  const insertedRecords = new Set(inserted.map((r) => r.record_id));
  const skipped = p.enhancements.filter((e) => !insertedRecords.has(e.record_id.toLowerCase()));
  const { rows: found } = await db.query<{ record_id: string; id: string; batch_id: string }>(
    `
select e.record_id::text, e.id::text, e.batch_id::text
from unnest($1::uuid[], $2::text[], $3::text[]) as w(record_id, type, content_hash)
join enhancements e on e.record_id = w.record_id and e.type = w.type and e.content_hash = w.content_hash
`,
    [skipped.map((e) => e.record_id), skipped.map((e) => e.type), skipped.map((e) => e.content_hash)],
  );
  const byRecord = new Map(found.map((f) => [f.record_id, f]));
  for (const e of skipped) {
    const f = byRecord.get(e.record_id.toLowerCase());
    // Not there: the record was gone, so nothing was inserted and no duplicate is left.
    if (!f) outcomes.push({ record_id: e.record_id, enhancement_id: null, outcome: 'record_gone' });
    else outcomes.push({ record_id: e.record_id, enhancement_id: f.id, outcome: f.batch_id === p.batchId ? 'imported' : 'discarded' });
  }
  return outcomes;
}
