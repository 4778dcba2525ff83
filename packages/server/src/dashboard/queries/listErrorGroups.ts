import type { Queryable } from '../../db/index.ts';

export interface ErrorGroupRow {
  code: string;
  count: number;
  status: string;
  message: string;
}

/**
 * A request's finished items that carry an error, grouped by code and status, most first, each
 * with the message of its first item. The grouping walks only the request's items that carry an
 * error (items_with_error, docs/internals/0025-dashboard-reads.md); each group's message is one
 * more row.
 */
export async function listErrorGroups(db: Queryable, p: { requestId: string }): Promise<ErrorGroupRow[]> {
  const { rows } = await db.query<ErrorGroupRow>(
    `
select g.code, g.status, g.count, coalesce(m.error_message, '') as message
from (
  select i.error_code as code, i.status, count(*)::int as count, min(i.id) as first_id
  from items i
  where i.request_id = $1::uuid
    and i.error_code is not null
    and i.status in ('failed', 'denied', 'expired', 'cancelled', 'discarded')
  group by i.error_code, i.status
) g
cross join lateral (select i.error_message from items i where i.id = g.first_id) m
order by g.count desc, g.code, g.status
`,
    [p.requestId],
  );
  return rows;
}
