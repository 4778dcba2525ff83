import { commitUnflushed, type Queryable } from '../../db/index.ts';
import type { RobotProtocol } from '../../robots/index.ts';
import { leaseFairness, overdueSlots } from '../fairness.ts';
import { batchColumns, type BatchRow } from './batchRow.ts';
import { firstPageSql } from './itemsFileLines.ts';
import { requestIsOpen } from '../../requests/index.ts';

/** A new batch with the first page of its items file (the lines of its first `itemsPageSize` items, by item id). */
export interface LeasedBatch extends BatchRow {
  first_page: string;
  /** The id of the last item in `first_page`: itemsFileLines reads on after it. */
  first_page_last: string;
}

/**
 * Leases up to `limit` pending items of one robot into a new batch, in one statement: items given
 * back (queued rows, written `leased`) and spans of its requests' `new` items, not written
 * (docs/internals/0034-lease-by-span.md), in one order:
 * first up to `overdueSlots(limit)` items that have waited past `leaseFairness.overdueAfterMs`,
 * oldest first whatever their priority (nothing starves, docs/priorities.md), then the highest
 * priority, oldest first within it; never an item of a request whose deadline has passed (even
 * before the lease-expiry service expired it); `for update of i skip locked` so concurrent leasers never
 * take the same queued row, and the requests' rows locked so that they never take overlapping
 * spans; at most one item per record in a batch (the rest wait for the next one).
 * Requests whose first item this is move to `processing`. Null when nothing was pending.
 * With `leaseKey` a batch of the robot's under that key already fails the statement on the
 * unique index (a repeat that raced the first call: the caller serves that batch instead).
 * The first page of the items file comes back with the batch, saving a round trip.
 *
 * Its commit does not wait for the WAL to reach disk (`synchronous_commit` off for this statement's
 * transaction only): a lease lost in a database crash loses nothing, since its items are still
 * pending and are leased again, and the robot's later calls for the batch get 404. The results
 * post's fence commits durably, and with it everything logged before, this lease included
 * (docs/internals/0003-unflushed-commits.md).
 */
export async function leaseItems(
  db: Queryable,
  p: {
    robotId: string;
    limit: number;
    batchId: string;
    leaseToken: string;
    leaseMs: number;
    itemsKey: string;
    resultsKey: string;
    needs: string[];
    protocol?: RobotProtocol;
    now: Date;
    /** The lease call's idempotency key, recorded on the batch (batchOfLeaseKey). */
    leaseKey?: string | null;
  },
): Promise<LeasedBatch | null> {
  const { rows } = await db.query<LeasedBatch>(
    `
with overdue as (
  select i.id, i.record_id, i.request_id, i.available_at, i.priority
  from items i
  where i.robot_id = $1::uuid and i.queued
    and i.available_at <= $4::timestamptz - make_interval(secs => $9::int / 1000.0)
  order by i.available_at, i.id
  limit $10::int
  for update of i skip locked
),
by_priority as (
  select i.id, i.record_id, i.request_id, i.available_at, i.priority
  from items i
  where i.robot_id = $1::uuid and i.queued and i.available_at <= $4::timestamptz
  order by i.priority desc, i.id
  limit $2::int
  for update of i skip locked
),
-- The robot's open requests with items not leased yet, overdue ones first (oldest first), then by
-- priority, oldest first; locked in id order (as the count moves lock them), their cursors read
-- once locked: two leases never take overlapping spans (docs/internals/0034-lease-by-span.md).
spannable as (
  select q.id from requests q
  where q.robot_id = $1::uuid and ${requestIsOpen('q')} and q.n_pending > 0
    and (q.expires_at is null or q.expires_at > $4::timestamptz)
    and exists (select 1 from (select 1 from items i where i.request_id = q.id and i.id > q.lease_cursor and i.status = 'new' order by i.id limit 1) n)
  order by q.created_at > $4::timestamptz - make_interval(secs => $9::int / 1000.0),
    case when q.created_at <= $4::timestamptz - make_interval(secs => $9::int / 1000.0) then q.created_at end,
    q.priority desc, q.created_at, q.id
  limit $2::int
),
-- With the requests of the queued rows: every request row the lease moves is locked here, in id order.
locked as (
  select q.id, q.lease_cursor from requests q
  where q.id in (select id from spannable union select request_id from overdue union select request_id from by_priority)
    and ${requestIsOpen('q')} and q.n_pending > 0 and (q.expires_at is null or q.expires_at > $4::timestamptz)
  order by q.id
  for no key update of q
),
-- Each request's next items, in id order: a span is a prefix of them.
span_items as (
  select i.id, i.record_id, i.request_id, i.available_at, i.priority
  from locked q
  cross join lateral (
    select i.id, i.record_id, i.request_id, i.available_at, i.priority from items i
    where i.request_id = q.id and i.id > q.lease_cursor and i.status = 'new'
    order by i.id
    limit $2::int
  ) i
),
candidates as (
  select c.*,
    -- Overdue items take up to the reserved share of the slots, oldest first.
    case when c.overdue and row_number() over (partition by c.overdue order by c.available_at, c.id) <= $10::int then 0 else 1 end as pass
  from (
    select id, record_id, request_id, available_at, priority, false as span, true as overdue from overdue
    union all
    select id, record_id, request_id, available_at, priority, false, false from by_priority where id not in (select id from overdue)
    union all
    select id, record_id, request_id, available_at, priority, true, available_at <= $4::timestamptz - make_interval(secs => $9::int / 1000.0) from span_items
  ) c
),
firsts as (
  select t.*, row_number() over (partition by t.record_id order by t.ord) as nth
  from (
    select c.*, row_number() over (order by c.pass, case when c.pass = 0 then c.available_at end, c.priority desc, c.id) as ord
    from candidates c
    order by ord
    limit $2::int
  ) t
),
-- Open requests whose deadline has passed but which the deadlines service has not expired yet: usually
-- none. Their items are dropped here, after the walks, so that each walk stays an ordered index
-- scan stopping after N rows (a join in the walk makes the planner sort every pending item).
past_deadline as (
  select id from requests where expires_at <= $4::timestamptz and ${requestIsOpen()}
),
-- At most one item per record: a queued row repeating an earlier one's record is left, a span is
-- cut before its first such item (a request's items are distinct by record).
cuts as (
  select request_id, min(id) as cut from firsts where span and nth > 1 group by request_id
),
chosen_spans as (
  select f.request_id, min(f.id) as lo, max(f.id) as hi, count(*)::int as n
  from firsts f left join cuts c on c.request_id = f.request_id
  where f.span and (c.cut is null or f.id < c.cut)
  group by f.request_id
),
leased as (
  update items i set status = 'leased', batch_id = $3::uuid, attempts = i.attempts + 1, updated_at = $4::timestamptz
  where i.id = any(array(select id from firsts where not span and nth = 1 and request_id not in (select id from past_deadline)))
  returning i.id, i.record_id, i.request_id, i.attempts
),
spanned as (
  select f.id, f.record_id, f.request_id, 1 as attempts
  from firsts f join chosen_spans s on s.request_id = f.request_id and f.id between s.lo and s.hi
  where f.span
),
chosen as (
  select * from leased union all select * from spanned
),
spans as (
  insert into batch_spans (batch_id, request_id, lo, hi, n)
  select $3::uuid, request_id, lo, hi, n from chosen_spans
),
-- The cursors move past the spans; requests whose first item this is move to processing.
started as (
  update requests q set lease_cursor = coalesce(s.hi, q.lease_cursor),
    status = case when q.status = 'received' then 'processing' else q.status end,
    started_at = case when q.status = 'received' then $4::timestamptz else q.started_at end
  from (
    select r.request_id, max(s.hi) as hi
    from (select distinct request_id from chosen) r left join chosen_spans s on s.request_id = r.request_id
    group by r.request_id
  ) s
  where q.id = s.request_id and (s.hi is not null or q.status = 'received')
),
b as (
  insert into batches (id, robot_id, status, attempt, item_count, lease_token, lease_expires_at, items_key, results_key, lease_key, created_at, updated_at)
  select $3::uuid, $1::uuid, 'leased', max(attempts), count(*), $5::text,
    $4::timestamptz + make_interval(secs => $6::int / 1000.0), $7::text, $8::text, $11::text, $4::timestamptz, $4::timestamptz
  from chosen
  having count(*) > 0
  returning *
)
select ${batchColumns}, page.text as first_page, page.last as first_page_last
from b cross join ${commitUnflushed}
cross join lateral (
  ${firstPageSql('chosen', p.needs.length === 0 ? null : '$12::text[]', p.protocol)}
) page
`,
    [p.robotId, p.limit, p.batchId, p.now.toISOString(), p.leaseToken, p.leaseMs, p.itemsKey, p.resultsKey, leaseFairness.overdueAfterMs, overdueSlots(p.limit), p.leaseKey ?? null, ...(p.needs.length === 0 ? [] : [p.needs])],
    { prepared: true },
  );
  return rows[0] ?? null;
}
