import type { Queryable } from '../../db/index.ts';

/** The stored `traceparent`s of the requests a batch's items belong to, oldest request first (only while tracing). */
export async function traceParentsOfBatch(db: Queryable, p: { batchId: string; limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ trace_parent: string }>(
    `select r.trace_parent from requests r
     where r.id in (select request_id from batch_items($1::uuid)) and r.trace_parent is not null
     order by r.created_at, r.id limit $2::int`,
    [p.batchId, p.limit],
  );
  return rows.map((r) => r.trace_parent);
}
