import { firstPageSql, type HandoffLease, type LeasedBatch } from '../../batches/index.ts';
import { commitUnflushed, planFor, type Queryable } from '../../db/index.ts';
import { notifyWorkOf } from '../../work/index.ts';
import { type NewRequest, type NewRequestRow, newRequestParams, type RequestInsert, requestInsertOf } from './newRequest.ts';
import { requestColumns } from './requestRow.ts';
import { checkedItemsSql, itemErrorMessageSql, unpackedIdsSql } from './itemFates.ts';

/**
 * Inserts a request and every one of its items, if it is new (NewRequest), as insertRequestIfNew
 * does, for a robot whose long poll waits in this process (docs/dispatch.md,
 * docs/internals/0002-hand-off-to-a-waiting-poll.md): in the same statement its first
 * `handoff.limit` pending items are created `leased` instead, in a new batch whose first page of
 * the items file comes back as leaseItems' does, and the request starts (`processing`, its
 * `request.started` event) as at a first lease, under the poll's idempotency key if it gave one
 * (docs/internals/0021-lost-lease-answers.md). Not when other items of the robot's are available:
 * a lease would take those first (priorities, fairness).
 * Its commit does not wait for the WAL flush, so that the batch reaches the robot sooner: the
 * caller must flushWal before it tells the requester the request is accepted
 * (docs/internals/0003-unflushed-commits.md).
 */
export async function insertRequestLeasingToPollIfNew(
  db: Queryable,
  p: NewRequest & { handoff: HandoffLease },
): Promise<RequestInsert & { batch: LeasedBatch | null }> {
  const h = p.handoff;
  const { rows } = await db.query<
    NewRequestRow & { batch_item_count: number | null; batch_lease_expires_at: Date | null; first_page: string | null; first_page_last: string | null }
  >(
    `
with robot as (
  select r.* from robots r where r.id = $3::uuid
),
-- Each id once, at its first place, in id order: the records are then looked up in the order of
-- their index (and, ids being time-ordered, of their table), so that each page is read once
-- (docs/internals/0001-one-statement-create.md).
wanted as (
  select distinct on (record_id) record_id, ord
  from (
    ${unpackedIdsSql('$2::bytea')}
  ) ids
  -- Not for a paused robot, nor for a key used already, nor for a request retried already (the
  -- insert's ON CONFLICT below settles a race between two such calls; this spares the repeat its
  -- records' join).
  where exists (select 1 from robot where robot.active)
    and ($9::text is null or not exists (select 1 from requests x where x.requested_by = $6::uuid and x.idempotency_key = $9::text))
    and ($11::uuid is null or not exists (select 1 from requests x where x.retry_of = $11::uuid))
  order by record_id, ord
),
${checkedItemsSql('$5::timestamptz')},
-- The waiting poll's items: the first that may go to the robot, if none of its others waits.
handed as (
  select c.record_id from checked c
  where c.error_code is null
    and not exists (select 1 from items i where i.robot_id = $3::uuid and i.queued and i.available_at <= $5::timestamptz)
    and not has_span_work($3::uuid, $5::timestamptz)
  order by c.ord
  limit $13::int
),
fated as (
  select c.*,
    case
      when hd.record_id is not null then 'leased'
      when c.error_code is null then 'new'
      when c.error_code in ('record_expired', 'record_aged_out') then 'expired'
      else 'denied'
    end as status
  from checked c left join handed hd on hd.record_id = c.record_id
),
counted as (
  select count(*)::int as total,
    count(*) filter (where status = 'new')::int as pending,
    count(*) filter (where status = 'leased')::int as leased,
    count(*) filter (where status = 'denied')::int as denied,
    count(*) filter (where status = 'expired')::int as expired
  from fated
),
-- Started as at a first lease if any item went to the waiting poll.
request as (
  insert into requests (id, robot_id, requested_by, priority, status, total, n_pending, n_leased, n_denied, n_expired,
    expires_at, callback_url, idempotency_key, body_hash, retry_of, created_at, started_at, progress_at)
  select $1::uuid, robot.id, $6::uuid, $4::smallint, case when counted.leased > 0 then 'processing' else 'received' end,
    counted.total, counted.pending, counted.leased, counted.denied, counted.expired,
    $7::timestamptz, $8::text, $9::text, $10::text, $11::uuid, $5::timestamptz,
    case when counted.leased > 0 then $5::timestamptz end, case when counted.leased > 0 then $5::timestamptz end
  from robot cross join counted
  where robot.active
  -- Either unique index: (requested_by, idempotency_key) or retry_of.
  on conflict do nothing
  returning *
),
started as (
  insert into events (request_id, type, payload, created_at)
  select q.id, 'request.started', request_progress_payload(row(q.*)::requests), q.created_at
  from request q
  where q.status = 'processing'
),
inserted as (
  insert into items (request_id, record_id, robot_id, priority, status, attempts, batch_id, available_at, error_code, error_message, updated_at)
  select $1::uuid, f.record_id, $3::uuid, $4::smallint, f.status,
    case when f.status = 'leased' then 1 else 0 end,
    case when f.status = 'leased' then $12::uuid end,
    $5::timestamptz,
    f.error_code,
    ${itemErrorMessageSql},
    $5::timestamptz
  from fated f cross join robot
  where exists (select 1 from request)
  order by f.ord
  returning id, record_id, status
),
b as (
  insert into batches (id, robot_id, status, attempt, item_count, lease_token, lease_expires_at, items_key, results_key, lease_key, created_at, updated_at)
  select $12::uuid, $3::uuid, 'leased', 1, count(*), $14::text, $5::timestamptz + make_interval(secs => $15::int / 1000.0),
    $16::text, $17::text, $18::text, $5::timestamptz, $5::timestamptz
  from inserted
  where status = 'leased'
  having count(*) > 0
  returning item_count, lease_expires_at
),
-- The first page of the batch's items file: itemsFileLines reads on after its last item.
page as (
  ${firstPageSql("(select id, record_id from inserted where status = 'leased')", '$19::text[]')}
)
select robot.name, robot.active, coalesce(q.n_pending, 0) as pending,
  case when q.n_pending > 0 then ${notifyWorkOf('robot')} end as woken,
  b.item_count as batch_item_count, b.lease_expires_at as batch_lease_expires_at, page.text as first_page, page.last as first_page_last,
  ${requestColumns}
from robot
left join request q on true
left join b on true
cross join page
cross join ${commitUnflushed}
`,
    [
      ...newRequestParams(p),
      h.batchId,
      h.limit,
      h.leaseToken,
      h.leaseMs,
      h.itemsKey,
      h.resultsKey,
      h.leaseKey ?? null,
      // No enhancements are looked up for a robot that needs none.
      h.needs.length === 0 ? null : h.needs,
    ],
    planFor(p.recordIds.length),
  );
  const row = rows[0];
  if (!row) return { ...requestInsertOf(undefined), batch: null };
  const { batch_item_count, batch_lease_expires_at, first_page, first_page_last, ...rest } = row;
  const batch: LeasedBatch | null = batch_item_count
    ? {
        id: h.batchId,
        robot_id: p.robotId,
        status: 'leased',
        attempt: 1,
        item_count: batch_item_count,
        lease_token: h.leaseToken,
        lease_expires_at: batch_lease_expires_at!,
        items_key: h.itemsKey,
        results_key: h.resultsKey,
        report_key: null,
        error_message: null,
        files_deleted_at: null,
        first_page: first_page!,
        first_page_last: first_page_last!,
      }
    : null;
  return { ...requestInsertOf(rest), batch };
}
