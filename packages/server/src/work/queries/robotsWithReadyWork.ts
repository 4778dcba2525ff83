import type { Queryable } from '../../db/index.ts';

/**
 * Which of `robotIds` have an item a lease could take now (queued, its backoff over, or `new` past
 * its request's lease cursor: has_span_work): one statement for every long poll of the process
 * that is due to look again (WorkSignals), each robot an index probe (items_pending_since) and a
 * look at its open requests.
 */
export async function robotsWithReadyWork(db: Queryable, p: { robotIds: readonly string[]; now: Date }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `
select r.id from unnest($1::uuid[]) r(id)
where exists (select 1 from items i where i.robot_id = r.id and i.queued and i.available_at <= $2::timestamptz)
  or has_span_work(r.id, $2::timestamptz)
`,
    [p.robotIds, p.now.toISOString()],
    { prepared: true, lookup: true },
  );
  return rows.map((r) => r.id);
}
