/**
 * The ids packed in the `bytea` `packed` (an SQL expression; RecordIdList's format, 16 bytes an id,
 * as a request's body and its backlog rows hold them) as rows of `record_id` and its place `ord`,
 * from 1.
 */
export const unpackedIdsSql = (packed: string) => `select encode(substr(${packed}, (ord - 1) * 16 + 1, 16), 'hex')::uuid as record_id, ord
    from generate_series(1, length(${packed}) / 16) as ord`;

/**
 * The SQL that decides each new item's fate, in the create statements (insertRequest*IfNew) and the
 * backlog's writer (writeBacklogSlices). From `wanted`
 * (record_id and any other columns, each id once, in record id order, so that the records are
 * read in the order of their index) and `robot`, joined to each by `robotJoin`, at `now` (an SQL
 * expression), it makes `checked`: wanted's columns and the record's, with the `error_code` that
 * denies or expires the item, null when it may go to the robot.
 * Retention (docs/retention.md): a record older than its type's `aged_out` is expired; with
 * `decay`, one between `full_until` and `aged_out` is denied with probability 1 − p, p falling
 * linearly from 1 to 0 (drawn with `random()`, hence the materialized CTE: one draw per item).
 */
export function checkedItemsSql(now: string, robotJoin = 'cross join robot'): string {
  return `
aged as (
  select w.*, r.id, r.type, r.visibility, r.expires_at, rt.full_until_ms, rt.aged_out_ms, rt.decay,
    -- Only for types with a retention rule; date_part's float8, not extract's numeric (PostgreSQL 14+).
    case when rt.type is not null then date_part('epoch', ${now} - r.created_at) * 1000 end as age_ms
  from wanted w
  left join records r on r.id = w.record_id
  left join record_types rt on rt.type = r.type
),
checked as materialized (
  select a.*,
    case
      when a.id is null then 'record_not_found'
      when not (a.type = any(robot.accepts)) then 'type_not_accepted'
      when a.visibility = 'hidden' then 'record_hidden'
      when a.expires_at is not null and a.expires_at <= ${now} then 'record_expired'
      when a.age_ms >= a.aged_out_ms then 'record_aged_out'
      when a.decay and a.age_ms > a.full_until_ms and random() >= d.p then 'record_decayed'
    end as error_code,
    d.p
  from aged a
  ${robotJoin}
  cross join lateral (select 1 - (a.age_ms - a.full_until_ms) / nullif(a.aged_out_ms - a.full_until_ms, 0)::float8 as p) d
)`;
}

/** An item's status from its row `c` of `checked`, when it is not handed to a robot at once: `new`, pending until a lease takes it by span (docs/internals/0034-lease-by-span.md). */
export const checkedStatusSql = `case when c.error_code is null then 'new' when c.error_code in ('record_expired', 'record_aged_out') then 'expired' else 'denied' end`;

/** The message that goes with a checked row `f`'s error_code (null when it has none). */
export const itemErrorMessageSql = `case f.error_code
      when 'record_not_found' then 'record ' || f.record_id || ' does not exist'
      when 'type_not_accepted' then 'the robot accepts ' || array_to_string(robot.accepts, ', ') || ' records; this record is a ' || f.type
      when 'record_hidden' then 'the record is hidden, so no robot may read it'
      when 'record_expired' then 'the record aged out at ' || to_char(f.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      when 'record_aged_out' then 'the record aged out: it is ' || refinery_duration_text(f.age_ms) || ' old and ' || f.type
        || ' records age out at ' || refinery_duration_text(f.aged_out_ms)
      when 'record_decayed' then 'the record is decaying: it is ' || refinery_duration_text(f.age_ms) || ' old and ' || f.type
        || ' records decay from ' || refinery_duration_text(f.full_until_ms) || ' to ' || refinery_duration_text(f.aged_out_ms)
        || '; parsing probability ' || to_char(f.p, 'FM0.00')
    end`;
