import type { Queryable } from '../../db/index.ts';

export interface QueueDepthRow {
  robot_id: string;
  robot_name: string;
  priority: number;
  pending: number;
  oldest_available_at: Date;
}

/** Pending items by robot and priority, with the oldest's time: queued rows and open requests' items after their lease cursor. */
export async function queueDepth(db: Queryable): Promise<QueueDepthRow[]> {
  const { rows } = await db.query<QueueDepthRow>(
    `
select q.robot_id, r.name as robot_name, q.priority, q.pending, q.oldest_available_at
from (
  select i.robot_id, i.priority, count(*)::int as pending, min(i.available_at) as oldest_available_at
  from (
    select i.robot_id, i.priority, i.available_at from items i where i.queued
    union all
    -- Items not leased yet: the \`new\` ones after each open request's lease cursor (docs/internals/0034-lease-by-span.md).
    select n.robot_id, n.priority, n.available_at from requests q
    join items n on n.request_id = q.id and n.id > q.lease_cursor and n.status = 'new'
    where q.status in ('received', 'processing') and q.n_pending > 0
  ) i
  group by i.robot_id, i.priority
) q
join robots r on r.id = q.robot_id
order by r.name, q.priority desc
`,
  );
  return rows;
}

export interface FinishedPerMinuteRow {
  at: Date;
  completed: number;
  failed: number;
}

/**
 * Items completed and failed per minute since `since`, across requests, from the changes between
 * each request's started and progress events of that time (events_created_at, 029_dashboard_indexes.sql).
 */
export async function finishedPerMinute(db: Queryable, p: { since: Date }): Promise<FinishedPerMinuteRow[]> {
  const { rows } = await db.query<FinishedPerMinuteRow>(
    `
with points as (
  select e.request_id, e.id, e.created_at,
    (e.payload->'counts'->>'completed')::int as completed,
    (e.payload->'counts'->>'failed')::int as failed,
    e.type = 'request.started' as first
  from events e
  where e.created_at >= $1::timestamptz
),
moves as (
  select created_at,
    completed - coalesce(lag(completed) over w, case when first then 0 else completed end) as completed,
    failed - coalesce(lag(failed) over w, case when first then 0 else failed end) as failed
  from points
  window w as (partition by request_id order by id)
)
select date_trunc('minute', created_at) as at, sum(completed)::int as completed, sum(failed)::int as failed
from moves
group by 1
order by 1
`,
    [p.since.toISOString()],
  );
  return rows;
}

export interface FailingWebhooksRow {
  failing: number;
  last_error: string | null;
}

/** Webhook deliveries tried and not yet delivered (webhook_deliveries_undelivered). */
export async function failingWebhooks(db: Queryable): Promise<FailingWebhooksRow> {
  const { rows } = await db.query<FailingWebhooksRow>(
    `
select count(*)::int as failing,
  (select d2.last_error from webhook_deliveries d2 where d2.delivered_at is null and d2.attempts > 0 order by d2.event_id desc limit 1) as last_error
from webhook_deliveries d
where d.delivered_at is null and d.attempts > 0
`,
  );
  return rows[0]!;
}
