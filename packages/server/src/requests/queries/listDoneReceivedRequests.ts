import type { Queryable } from '../../db/db.ts';

/**
 * Requests still `received` whose items are all final: every one was denied or expired at
 * creation, and the process that created the request died before it could finish it.
 */
export async function listDoneReceivedRequests(db: Queryable, p: { limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `
select id from requests
where status = 'received' and n_pending + n_leased + n_importing = 0
limit $1::int
`,
    [p.limit],
  );
  return rows.map((r) => r.id);
}
