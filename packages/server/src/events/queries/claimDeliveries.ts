import type { Queryable } from '../../db/index.ts';

export interface ClaimedDelivery {
  /** The event id: the webhook's `webhook-id`, so a receiver can drop duplicates. */
  id: string;
  request_id: string;
  type: string;
  payload: unknown;
  created_at: Date;
  /** Attempts so far, this one included. */
  attempts: number;
  callback_url: string;
  /** The API key that made the request: its webhook secret signs the delivery. */
  requested_by: string;
}

/**
 * Claims up to `limit` deliveries that are due, at most one per request and only the earliest
 * undelivered event of it, so a request's events go out in order and an event never before the
 * earlier ones were delivered. The claim holds for `claimMs` (a sender that dies mid-send is
 * taken over after it); `for update skip locked` lets several processes claim at once; the
 * guards are re-checked on the locked row, so a delivery finished meanwhile is not taken.
 */
export async function claimDeliveries(db: Queryable, p: { now: Date; claimMs: number; limit: number }): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<ClaimedDelivery>(
    `
with heads as (
  select distinct on (request_id) event_id
  from webhook_deliveries
  where delivered_at is null
  order by request_id, event_id
),
claimable as (
  select d.event_id
  from webhook_deliveries d join heads h on h.event_id = d.event_id
  where d.delivered_at is null
    and d.next_attempt_at <= $1::timestamptz
    and (d.claimed_until is null or d.claimed_until <= $1::timestamptz)
  order by d.next_attempt_at, d.event_id
  limit $3::int
  for update of d skip locked
),
claimed as (
  update webhook_deliveries d set
    claimed_until = $1::timestamptz + make_interval(secs => $2::int / 1000.0),
    attempts = d.attempts + 1
  from claimable c
  where d.event_id = c.event_id
  returning d.event_id, d.request_id, d.attempts
)
select c.event_id::text as id, c.request_id::text, e.type, e.payload, e.created_at, c.attempts,
  r.callback_url, r.requested_by::text
from claimed c
join events e on e.id = c.event_id
join requests r on r.id = c.request_id
order by c.event_id
`,
    [p.now.toISOString(), p.claimMs, p.limit],
  );
  return rows;
}
