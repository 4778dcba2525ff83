import { planFor, type Queryable } from '../../db/index.ts';
import { notifyWorkOf } from '../../work/index.ts';
import { type NewRequest, type NewRequestRow, newRequestParams, type RequestInsert, requestInsertOf } from './newRequest.ts';
import { requestColumns } from './requestRow.ts';
import { checkedItemsSql, checkedStatusSql, itemErrorMessageSql, unpackedIdsSql } from './itemFates.ts';

/**
 * Inserts a request of more than `slice` distinct ids, if it is new (NewRequest), in one statement
 * (docs/large-requests.md, docs/internals/0007-large-requests-in-slices.md): the items of its first
 * `slice` distinct ids, in request order, as insertRequestIfNew does, and the rest in its backlog,
 * `slice` ids a row, counted pending. writeBacklogSlices writes those after the commit.
 */
export async function insertRequestFirstSliceIfNew(db: Queryable, p: NewRequest & { slice: number }): Promise<RequestInsert> {
  const { rows } = await db.query<NewRequestRow>(
    `
with robot as (
  select r.* from robots r where r.id = $3::uuid
),
-- Each id once, at its first place, in id order: the records are then looked up in the order of
-- their index (and, ids being time-ordered, of their table), so that each page is read once
-- (docs/internals/0001-one-statement-create.md).
distinct_ids as (
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
numbered as (
  select record_id, ord, (row_number() over (order by ord) - 1) / $12::int as slice from distinct_ids
),
-- The first slice, in id order again.
wanted as (
  select record_id, ord from numbered where slice = 0 order by record_id
),
${checkedItemsSql('$5::timestamptz')},
fated as (
  select c.*,
    ${checkedStatusSql} as status
  from checked c
),
-- The ids left in the backlog are counted pending.
counted as (
  select count(*)::int + (select count(*) from numbered where slice > 0)::int as total,
    count(*) filter (where status = 'new')::int + (select count(*) from numbered where slice > 0)::int as pending,
    count(*) filter (where status = 'denied')::int as denied,
    count(*) filter (where status = 'expired')::int as expired
  from fated
),
request as (
  insert into requests (id, robot_id, requested_by, priority, status, total, n_pending, n_denied, n_expired,
    expires_at, callback_url, idempotency_key, body_hash, retry_of, created_at)
  select $1::uuid, robot.id, $6::uuid, $4::smallint, 'received', counted.total, counted.pending, counted.denied, counted.expired,
    $7::timestamptz, $8::text, $9::text, $10::text, $11::uuid, $5::timestamptz
  from robot cross join counted
  where robot.active
  -- Either unique index: (requested_by, idempotency_key) or retry_of.
  on conflict do nothing
  returning *
),
inserted as (
  insert into items (request_id, record_id, robot_id, priority, status, attempts, available_at, error_code, error_message, updated_at)
  select $1::uuid, f.record_id, $3::uuid, $4::smallint, f.status, 0, $5::timestamptz, f.error_code,
    ${itemErrorMessageSql},
    $5::timestamptz
  from fated f cross join robot
  where exists (select 1 from request)
  order by f.ord
),
backlog as (
  insert into item_backlog (request_id, slice, record_ids)
  select $1::uuid, n.slice, string_agg(uuid_send(n.record_id), ''::bytea order by n.ord)
  from numbered n
  where n.slice > 0 and exists (select 1 from request)
  group by n.slice
)
select robot.name, robot.active, coalesce(q.n_pending, 0) as pending,
  case when q.n_pending > 0 then ${notifyWorkOf('robot')} end as woken,
  ${requestColumns}
from robot left join request q on true
`,
    [...newRequestParams(p), p.slice],
    planFor(p.recordIds.length),
  );
  return requestInsertOf(rows[0], (request) => request.total > p.slice);
}
