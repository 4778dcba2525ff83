import type { Queryable } from '../../db/db.ts';

export interface ErrorGroupRow {
  code: string;
  count: number;
  status: string;
  message: string;
}

/**
 * A request's finished items that carry an error, grouped by code and status, most first, each
 * with one of its messages. Walks the items_with_error index only (029_dashboard_indexes.sql).
 */
export async function listErrorGroups(db: Queryable, p: { requestId: string }): Promise<ErrorGroupRow[]> {
  const { rows } = await db.query<ErrorGroupRow>(
    `
select i.error_code as code, i.status, count(*)::int as count, min(i.error_message) as message
from items i
where i.request_id = $1::uuid
  and i.error_code is not null
  and i.status in ('failed', 'denied', 'expired', 'cancelled', 'discarded')
group by i.error_code, i.status
order by count(*) desc, i.error_code, i.status
`,
    [p.requestId],
  );
  return rows;
}
