import { planFor, type Queryable } from '../../db/index.ts';
import { notifyWorkOf } from '../../work/index.ts';
import { type NewRequest, type NewRequestRow, newRequestParams, type RequestInsert, requestInsertOf } from './newRequest.ts';
import { requestColumns } from './requestRow.ts';
import { checkedItemsSql, checkedStatusSql, itemErrorMessageSql, unpackedIdsSql } from './itemFates.ts';

/**
 * Inserts a request and every one of its items in one statement, if it is new (NewRequest), with
 * the robot's wake-up (delivered at commit). Each item is `pending`, or `denied` / `expired` at once
 * with the reason, by joining the record ids (16 bytes each, in one `bytea`: see RecordIdList)
 * against the records (itemFates.ts); duplicate ids count once.
 * The request is inserted counted, after its items' fates are known and before the items
 * themselves: the counts start here, and the items triggers move them from then on
 * (docs/internals/0001-one-statement-create.md, 0010-item-moves-counted-per-statement.md).
 */
export async function insertRequestIfNew(db: Queryable, p: NewRequest): Promise<RequestInsert> {
  const { rows } = await db.query<NewRequestRow>(
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
fated as (
  select c.*,
    ${checkedStatusSql} as status
  from checked c
),
counted as (
  select count(*)::int as total,
    count(*) filter (where status = 'new')::int as pending,
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
)
select robot.name, robot.active, coalesce(q.n_pending, 0) as pending,
  case when q.n_pending > 0 then ${notifyWorkOf('robot')} end as woken,
  ${requestColumns}
from robot left join request q on true
`,
    newRequestParams(p),
    planFor(p.recordIds.length),
  );
  return requestInsertOf(rows[0]);
}
