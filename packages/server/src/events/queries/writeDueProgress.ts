import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../../requests/index.ts';

/**
 * The trailing edge of the progress throttle: a request whose counts moved while the throttle
 * held its `request.progress` back gets that event once the throttle has passed, so the last
 * counts before a quiet spell are not lost. Finished requests are only unmarked.
 */
export async function writeDueProgress(db: Queryable, p: { now: Date; limit: number }): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `
with due as (
  select id from requests
  where progress_due and progress_at <= $1::timestamptz - progress_throttle()
  order by progress_at
  limit $2::int
  for update skip locked
),
marked as (
  update requests r set progress_due = false, progress_at = $1::timestamptz
  from due where r.id = due.id
  returning r.id, r.status
),
written as (
  insert into events (request_id, type, payload, created_at)
  select r.id, 'request.progress', request_progress_payload(r), $1::timestamptz
  from marked m join requests r on r.id = m.id
  where ${requestIsOpen('m')}
  order by r.id
  returning 1
)
select count(*)::int as n from written
`,
    [p.now.toISOString(), p.limit],
  );
  return rows[0].n;
}
