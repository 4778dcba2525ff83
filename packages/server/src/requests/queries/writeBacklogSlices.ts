import type { Queryable } from '../../db/index.ts';
import { notifyWorkOf } from '../../work/index.ts';
import { checkedItemsSql, checkedStatusSql, itemErrorMessageSql, unpackedIdsSql } from './itemFates.ts';

export interface WrittenSlices {
  requestId: string;
  robotId: string;
  /** Items written pending (`new`; their robot is woken at commit when there are any). */
  pending: number;
  /** Items written denied or expired: the request may have no open item left. */
  closed: number;
}

/**
 * Writes backlog slices as items (docs/large-requests.md), in one statement: the backlog rows are
 * deleted, their ids become items as the create's would (checkedItemsSql), and the counts of a
 * request with denied or expired ones among them move from pending to those; a request whose
 * items were all written pending keeps its counts (its backlog was counted pending) and its row
 * is not touched.
 *
 * `next`: the next slice that no other transaction holds (`skip locked`: writers in many
 * processes each take their own): of the highest priority, then of the oldest request, in order. `requestIds`: every slice of
 * those requests, whose backlog rows the caller has locked first (lockBacklogs).
 *
 * Locks, in order: the backlog rows, then their request rows (before the items take their ids),
 * held only for the moment before the commit. The cancel and the deadline lock the backlog rows before they
 * move items (items, then request rows, the order of the leases and imports too), so none of
 * them deadlock.
 */
export async function writeBacklogSlices(db: Queryable, p: { now: Date } & ({ next: true } | { requestIds: readonly string[] })): Promise<WrittenSlices[]> {
  const next = 'next' in p;
  const { rows } = await db.query<{ written: WrittenSlices[]; woken: number }>(
    `
with slice as (
  delete from item_backlog b
  where ${
    next
      ? `(b.request_id, b.slice) = (
    select n.request_id, n.slice from item_backlog n join requests q on q.id = n.request_id
    order by q.priority desc, n.request_id, n.slice
    limit 1
    for update of n skip locked
  )`
      : 'b.request_id = any($2::uuid[])'
  }
  returning b.request_id, b.slice, b.record_ids
),
-- Locked before the items take their ids: a lease reading a request's items after its cursor
-- never misses ids that a slice writing meanwhile takes below ones it sees (docs/internals/0034-lease-by-span.md).
request as (
  select q.id, q.robot_id, q.priority from requests q where q.id in (select request_id from slice)
  order by q.id
  for no key update
),
robot as (
  select r.* from robots r where r.id in (select robot_id from request)
),
wanted as (
  select distinct on (s.request_id, ids.record_id) s.request_id, s.slice, ids.record_id, ids.ord, q.robot_id, q.priority
  from slice s
  cross join lateral (${unpackedIdsSql('s.record_ids')}) ids
  join request q on q.id = s.request_id
  order by s.request_id, ids.record_id, ids.ord
),
${checkedItemsSql('$1::timestamptz', 'join robot on robot.id = a.robot_id')},
fated as (
  select c.*, ${checkedStatusSql} as status from checked c
),
inserted as (
  insert into items (request_id, record_id, robot_id, priority, status, attempts, available_at, error_code, error_message, updated_at)
  select f.request_id, f.record_id, f.robot_id, f.priority, f.status, 0, $1::timestamptz, f.error_code,
    ${itemErrorMessageSql},
    $1::timestamptz
  from fated f join robot on robot.id = f.robot_id
  order by f.request_id, f.slice, f.ord
  returning request_id, status
),
written as (
  select request_id, count(*)::int as total,
    count(*) filter (where status = 'new')::int as pending,
    count(*) filter (where status = 'denied')::int as denied,
    count(*) filter (where status = 'expired')::int as expired
  from inserted
  group by request_id
),
counted as (
  update requests r set
    n_pending = r.n_pending - w.total + w.pending,
    n_denied = r.n_denied + w.denied,
    n_expired = r.n_expired + w.expired,
    -- A started request's next progress event (the throttle's trailing edge) shows the moved counts.
    progress_due = r.progress_due or r.status = 'processing'
  from written w
  where r.id = w.request_id and w.pending < w.total
)
select coalesce(json_agg(json_build_object('requestId', q.id, 'robotId', q.robot_id, 'pending', w.pending, 'closed', w.total - w.pending)), '[]') as written,
  (select count(${notifyWorkOf('robot')}) from written w join request q on q.id = w.request_id join robot on robot.id = q.robot_id where w.pending > 0) as woken
from written w join request q on q.id = w.request_id
`,
    [p.now.toISOString(), ...(next ? [] : [p.requestIds])],
  );
  return rows[0].written;
}
