import type { RequestProvenance } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';

/** The automation that made a request, and what triggered it; null for a request a caller made. */
export async function provenanceOfRequest(db: Queryable, p: { requestId: string }): Promise<RequestProvenance | null> {
  const { rows } = await db.query<RequestProvenance>(
    `select automation_id, sources as triggered_by, depth from automation_runs where request_id = $1::uuid`,
    [p.requestId],
  );
  return rows[0] ?? null;
}
