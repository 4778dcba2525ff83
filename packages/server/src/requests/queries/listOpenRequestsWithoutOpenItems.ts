import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../open.ts';

/**
 * Open requests whose items are all final: the process that made them so (a request created with
 * every item denied or expired, a batch's import completed) died before it finished them.
 */
export async function listOpenRequestsWithoutOpenItems(db: Queryable, p: { limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `
select id from requests
where ${requestIsOpen()} and n_pending + n_leased + n_importing = 0
limit $1::int
`,
    [p.limit],
  );
  return rows.map((r) => r.id);
}
