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
 * Leases up to `limit` pending items of one robot into a new batch, in one statement:
 * first up to `overdueSlots(limit)` items that have waited past `leaseFairness.overdueAfterMs`,
 * oldest first whatever their priority (nothing starves, docs/priorities.md), then the highest
 * priority, oldest first within it; never an item of a request whose deadline has passed (even
 * before the lease-expiry service expired it); `for update of i skip locked` so concurrent leasers never
 * take the same item; at most one item per record in a batch (the rest wait for the next one).
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
  select i.id, i.record_id, i.request_id, i.available_at
  from items i
  where i.robot_id = $1::uuid and i.queued
    and i.available_at <= $4::timestamptz - make_interval(secs => $9::int / 1000.0)
  order by i.available_at, i.id
  limit $10::int
  for update of i skip locked
),
by_priority as (
  select i.id, i.record_id, i.request_id, i.priority
  from items i
  where i.robot_id = $1::uuid and i.queued and i.available_at <= $4::timestamptz
  order by i.priority desc, i.id
  limit $2::int
  for update of i skip locked
),
candidates as (
  select id, record_id, request_id from (
    select id, record_id, request_id, 0 as pass, available_at, 0::smallint as priority from overdue
    union all
    select id, record_id, request_id, 1, null, priority from by_priority where id not in (select id from overdue)
  ) c
  order by pass, available_at, priority desc, id
  limit $2::int
),
-- Open requests whose deadline has passed but which the deadlines service has not expired yet: usually
-- none. Their items are dropped here, after the walks, so that each walk stays an ordered index
-- scan stopping after N rows (a join in the walk makes the planner sort every pending item).
past_deadline as (
  select id from requests where expires_at <= $4::timestamptz and ${requestIsOpen()}
),
chosen as (
  select distinct on (record_id) id from candidates
  where request_id not in (select id from past_deadline)
  order by record_id, id
),
leased as (
  update items i set status = 'leased', batch_id = $3::uuid, attempts = i.attempts + 1, updated_at = $4::timestamptz
  where i.id = any(array(select id from chosen))
  returning i.id, i.record_id, i.request_id, i.attempts
),
started as (
  update requests set status = 'processing', started_at = $4::timestamptz
  where id in (select request_id from leased) and status = 'received'
),
b as (
  insert into batches (id, robot_id, status, attempt, item_count, lease_token, lease_expires_at, items_key, results_key, lease_key, created_at, updated_at)
  select $3::uuid, $1::uuid, 'leased', max(attempts), count(*), $5::text,
    $4::timestamptz + make_interval(secs => $6::int / 1000.0), $7::text, $8::text, $11::text, $4::timestamptz, $4::timestamptz
  from leased
  having count(*) > 0
  returning *
)
select ${batchColumns}, page.text as first_page, page.last as first_page_last
from b cross join ${commitUnflushed}
cross join lateral (
  ${firstPageSql('leased', p.needs.length === 0 ? null : '$12::text[]', p.protocol)}
) page
`,
    [p.robotId, p.limit, p.batchId, p.now.toISOString(), p.leaseToken, p.leaseMs, p.itemsKey, p.resultsKey, leaseFairness.overdueAfterMs, overdueSlots(p.limit), p.leaseKey ?? null, ...(p.needs.length === 0 ? [] : [p.needs])],
    { prepared: true },
  );
  return rows[0] ?? null;
}
