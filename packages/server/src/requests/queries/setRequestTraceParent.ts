import type { Queryable } from '../../db/index.ts';

/** Stores the `traceparent` of the span that created the request (only while tracing). */
export async function setRequestTraceParent(db: Queryable, p: { requestId: string; traceparent: string }): Promise<void> {
  await db.query(`update requests set trace_parent = $2::text where id = $1::uuid`, [p.requestId, p.traceparent], { lookup: true });
}
