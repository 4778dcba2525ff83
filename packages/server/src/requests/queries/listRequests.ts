import type { Queryable } from '../../db/index.ts';
import { requestColumns, type RequestRow } from './requestRow.ts';

/** Requests newest first, optionally only one requester's, one status or one robot's. */
export async function listRequests(db: Queryable, p: { requestedBy: string | null; status: string | null; robotId: string | null; afterId: string | null; limit: number }): Promise<RequestRow[]> {
  const { rows } = await db.query<RequestRow>(
    `
select ${requestColumns}
from requests q
where ($1::uuid is null or q.requested_by = $1::uuid)
  and ($2::text is null or q.status = $2::text)
  and ($3::uuid is null or q.robot_id = $3::uuid)
  and ($4::uuid is null or q.id < $4::uuid)
order by q.id desc
limit $5::int
`,
    [p.requestedBy, p.status, p.robotId, p.afterId, p.limit],
  );
  return rows;
}
