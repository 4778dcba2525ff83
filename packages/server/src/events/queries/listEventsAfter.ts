import type { Queryable } from '../../db/index.ts';

export interface EventRow {
  id: string;
  type: string;
  payload: unknown;
  created_at: Date;
}

/** A request's events after `afterId`, oldest first. */
export async function listEventsAfter(db: Queryable, p: { requestId: string; afterId: string; limit: number }): Promise<EventRow[]> {
  const { rows } = await db.query<EventRow>(
    `
select e.id::text, e.type, e.payload, e.created_at from events e
where e.request_id = $1::uuid and e.id > $2::bigint
order by e.id
limit $3::int
`,
    [p.requestId, p.afterId, p.limit],
  );
  return rows;
}
