import { planFor, type Queryable } from '../../db/index.ts';
import { notifyWorkOf } from '../../work/index.ts';
import { type NewRequest, type NewRequestRow, newRequestParams, type RequestInsert, requestInsertOf } from './newRequest.ts';
import { requestColumns } from './requestRow.ts';

/**
 * Inserts a request and every one of its items in one statement, if it is new (NewRequest), with
 * the robot's wake-up (delivered at commit). Each item is `pending`, or `denied` / `expired` at once
 * with the reason, by joining the record ids (16 bytes each, in one `bytea`: see RecordIdList)
 * against the records; duplicate ids count once. These rules are also the backlog's
 * (itemFates.ts) and the other create statements'.
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
    select encode(substr($2::bytea, (ord - 1) * 16 + 1, 16), 'hex')::uuid as record_id, ord
    from generate_series(1, length($2::bytea) / 16) as ord
  ) ids
  -- Not for a paused robot, nor for a key used already, nor for a request retried already (the
  -- insert's ON CONFLICT below settles a race between two such calls; this spares the repeat its
  -- records' join).
  where exists (select 1 from robot where robot.active)
    and ($9::text is null or not exists (select 1 from requests x where x.requested_by = $6::uuid and x.idempotency_key = $9::text))
    and ($11::uuid is null or not exists (select 1 from requests x where x.retry_of = $11::uuid))
  order by record_id, ord
),
aged as (
  select w.*, r.id, r.type, r.visibility, r.expires_at, rt.full_until_ms, rt.aged_out_ms, rt.decay,
    -- Only for types with a retention rule (docs/retention.md); date_part's float8, not extract's numeric.
    case when rt.type is not null then date_part('epoch', $5::timestamptz - r.created_at) * 1000 end as age_ms
  from wanted w
  left join records r on r.id = w.record_id
  left join record_types rt on rt.type = r.type
),
-- Materialized: one random() draw per decaying item.
checked as materialized (
  select a.*,
    case
      when a.id is null then 'record_not_found'
      when not (a.type = any(robot.accepts)) then 'type_not_accepted'
      when a.visibility = 'hidden' then 'record_hidden'
      when a.expires_at is not null and a.expires_at <= $5::timestamptz then 'record_expired'
      when a.age_ms >= a.aged_out_ms then 'record_aged_out'
      when a.decay and a.age_ms > a.full_until_ms and random() >= d.p then 'record_decayed'
    end as error_code,
    d.p
  from aged a
  cross join robot
  cross join lateral (select 1 - (a.age_ms - a.full_until_ms) / nullif(a.aged_out_ms - a.full_until_ms, 0)::float8 as p) d
),
fated as (
  select c.*,
    case when c.error_code is null then 'pending' when c.error_code in ('record_expired', 'record_aged_out') then 'expired' else 'denied' end as status
  from checked c
),
counted as (
  select count(*)::int as total,
    count(*) filter (where status = 'pending')::int as pending,
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
    case f.error_code
      when 'record_not_found' then 'record ' || f.record_id || ' does not exist'
      when 'type_not_accepted' then 'the robot accepts ' || array_to_string(robot.accepts, ', ') || ' records; this record is a ' || f.type
      when 'record_hidden' then 'the record is hidden, so no robot may read it'
      when 'record_expired' then 'the record aged out at ' || to_char(f.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      when 'record_aged_out' then 'the record aged out: it is ' || refinery_duration_text(f.age_ms) || ' old and ' || f.type
        || ' records age out at ' || refinery_duration_text(f.aged_out_ms)
      when 'record_decayed' then 'the record is decaying: it is ' || refinery_duration_text(f.age_ms) || ' old and ' || f.type
        || ' records decay from ' || refinery_duration_text(f.full_until_ms) || ' to ' || refinery_duration_text(f.aged_out_ms)
        || '; parsing probability ' || to_char(f.p, 'FM0.00')
    end,
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
