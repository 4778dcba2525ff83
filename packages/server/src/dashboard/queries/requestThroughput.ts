import type { Queryable } from '../../db/index.ts';

export interface ThroughputRow {
  at: Date;
  completed: number;
  failed: number;
  discarded: number;
}

/**
 * A request's items finished per bucket of `bucketSeconds`, from its started and progress events
 * (each carries the request's counts: the change between two is what finished in between).
 */
export async function requestThroughput(db: Queryable, p: { requestId: string; bucketSeconds: number }): Promise<ThroughputRow[]> {
  const { rows } = await db.query<ThroughputRow>(
    `
with points as (
  select e.id, e.created_at,
    (e.payload->'counts'->>'completed')::int as completed,
    (e.payload->'counts'->>'failed')::int as failed,
    (e.payload->'counts'->>'discarded')::int as discarded
  from events e
  where e.request_id = $1::uuid
),
moves as (
  select created_at,
    completed - coalesce(lag(completed) over w, 0) as completed,
    failed - coalesce(lag(failed) over w, 0) as failed,
    discarded - coalesce(lag(discarded) over w, 0) as discarded
  from points
  window w as (order by id)
)
select date_bin(make_interval(secs => $2::int), created_at, timestamptz '2000-01-01') as at,
  sum(completed)::int as completed, sum(failed)::int as failed, sum(discarded)::int as discarded
from moves
group by 1
order by 1
`,
    [p.requestId, p.bucketSeconds],
  );
  return rows;
}

/** The first and last event times of a request, to choose a bucket width. */
export async function requestEventSpan(db: Queryable, p: { requestId: string }): Promise<{ first: Date | null; last: Date | null }> {
  const { rows } = await db.query<{ first: Date | null; last: Date | null }>(
    `
select (select created_at from events where request_id = $1::uuid order by id limit 1) as first,
  (select created_at from events where request_id = $1::uuid order by id desc limit 1) as last
`,
    [p.requestId],
  );
  return rows[0]!;
}
