import type { Queryable } from '../../db/db.ts';

/**
 * Creates a request's items in one statement: `pending`, or `denied` / `expired` at once with the
 * reason, by joining the record ids against the records. Duplicate ids count once.
 * Retention (docs/retention.md): a record older than its type's `aged_out` is `expired`; with
 * `decay`, one between `full_until` and `aged_out` is `denied` with probability 1 − p, p falling
 * linearly from 1 to 0 (drawn with `random()`, hence the materialized CTE: one draw per item).
 */
export async function insertItems(db: Queryable, p: { requestId: string; robotId: string; accepts: string[]; priority: number; recordIds: string[]; now: Date }): Promise<void> {
  await db.query(
    `
with wanted as (
  select record_id, min(ord) as ord
  from unnest($2::uuid[]) with ordinality as t(record_id, ord)
  group by record_id
),
aged as (
  select w.record_id, w.ord, r.id, r.type, r.visibility, r.expires_at, rt.full_until_ms, rt.aged_out_ms, rt.decay,
    extract(epoch from ($6::timestamptz - r.created_at))::float8 * 1000 as age_ms
  from wanted w
  left join records r on r.id = w.record_id
  left join record_types rt on rt.type = r.type
),
checked as materialized (
  select a.record_id, a.ord,
    case
      when a.id is null then 'record_not_found'
      when not (a.type = any($4::text[])) then 'type_not_accepted'
      when a.visibility = 'hidden' then 'record_hidden'
      when a.expires_at is not null and a.expires_at <= $6::timestamptz then 'record_expired'
      when a.age_ms >= a.aged_out_ms then 'record_aged_out'
      when a.decay and a.age_ms > a.full_until_ms and random() >= d.p then 'record_decayed'
    end as error_code,
    a.type, a.expires_at, a.age_ms, a.full_until_ms, a.aged_out_ms, d.p
  from aged a
  cross join lateral (select 1 - (a.age_ms - a.full_until_ms) / nullif(a.aged_out_ms - a.full_until_ms, 0)::float8 as p) d
)
insert into items (request_id, record_id, robot_id, priority, status, available_at, error_code, error_message, updated_at)
select $1::uuid, c.record_id, $3::uuid, $5::smallint,
  case when c.error_code is null then 'pending' when c.error_code in ('record_expired', 'record_aged_out') then 'expired' else 'denied' end,
  $6::timestamptz,
  c.error_code,
  case c.error_code
    when 'record_not_found' then 'record ' || c.record_id || ' does not exist'
    when 'type_not_accepted' then 'the robot accepts ' || array_to_string($4::text[], ', ') || ' records; this record is a ' || c.type
    when 'record_hidden' then 'the record is hidden, so no robot may read it'
    when 'record_expired' then 'the record aged out at ' || to_char(c.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    when 'record_aged_out' then 'the record aged out: it is ' || refinery_duration_text(c.age_ms) || ' old and ' || c.type
      || ' records age out at ' || refinery_duration_text(c.aged_out_ms)
    when 'record_decayed' then 'the record is decaying: it is ' || refinery_duration_text(c.age_ms) || ' old and ' || c.type
      || ' records decay from ' || refinery_duration_text(c.full_until_ms) || ' to ' || refinery_duration_text(c.aged_out_ms)
      || '; parsing probability ' || to_char(c.p, 'FM0.00')
  end,
  $6::timestamptz
from checked c
order by c.ord
`,
    [p.requestId, p.recordIds, p.robotId, p.accepts, p.priority, p.now.toISOString()],
  );
}
