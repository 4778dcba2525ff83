import type { RecordFilter } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';
import { requestColumns, type RequestRow } from './requestRow.ts';

/**
 * Accepts a request by query in one statement, set-based: the records the compiled filter
 * (`where`, a condition on `records r` whose parameters follow this statement's own) matches go
 * into the request's backlog, `slice` ids a row, numbered in id order, and the request row is inserted
 * counted (every match pending), unless the robot is unknown or paused or the idempotency key was
 * used. No id passes through the process; the backlog's writer (writeBacklogSlices) makes the
 * items after the commit, as for a large request of record ids (docs/large-requests.md), and
 * decides each one's fate then (a hidden record's item is denied, and so on).
 */
export async function insertRequestFromQuery(
  db: Queryable,
  p: {
    id: string;
    robotId: string;
    requestedBy: string;
    priority: number;
    expiresAt: string | null;
    callbackUrl: string | null;
    idempotencyKey: string | null;
    bodyHash: string;
    now: Date;
    slice: number;
    query: string | null;
    filter: RecordFilter;
    where: { sql: string; params: unknown[] };
  },
): Promise<{ robot: { name: string; active: boolean } | null; request: RequestRow | null }> {
  const { rows } = await db.query<RequestRow & { name: string; active: boolean }>(
    `
with robot as (
  select r.* from robots r where r.id = $2::uuid
),
matched as (
  select r.id, (row_number() over (order by r.id) - 1) / $10::int as slice
  from records r
  where (${p.where.sql})
    -- Not for a paused robot, nor for a key used already (the insert's ON CONFLICT settles a race).
    and exists (select 1 from robot where robot.active)
    and ($8::text is null or not exists (select 1 from requests x where x.requested_by = $3::uuid and x.idempotency_key = $8::text))
),
counted as (
  select count(*)::int as n from matched
),
request as (
  insert into requests (id, robot_id, requested_by, priority, status, total, n_pending, expires_at, callback_url,
    idempotency_key, body_hash, created_at, query, query_filter, matched)
  select $1::uuid, robot.id, $3::uuid, $4::smallint, 'received', counted.n, counted.n, $5::timestamptz, $6::text,
    $8::text, $9::text, $7::timestamptz, $11::text, $12::jsonb, counted.n
  from robot cross join counted where robot.active
  on conflict do nothing
  returning *
),
backlog as (
  insert into item_backlog (request_id, slice, record_ids)
  -- In the order matched numbered them (id order), not sorted again: the slice's writer reads its
  -- ids in id order anyway (writeBacklogSlices), and a second sort of every match is the costliest
  -- step left (docs/internals/0023-requests-by-query.md).
  select $1::uuid, m.slice, string_agg(uuid_send(m.id), ''::bytea)
  from matched m
  where exists (select 1 from request)
  group by m.slice
)
select robot.name, robot.active, ${requestColumns}
from robot left join request q on true
`,
    [
      p.id,
      p.robotId,
      p.requestedBy,
      p.priority,
      p.expiresAt,
      p.callbackUrl,
      p.now.toISOString(),
      p.idempotencyKey,
      p.bodyHash,
      p.slice,
      p.query,
      JSON.stringify(p.filter),
      ...p.where.params,
    ],
  );
  const row = rows[0];
  if (!row) return { robot: null, request: null };
  const { name, active, ...request } = row;
  return { robot: { name, active }, request: request.id === null ? null : request };
}

/** The number of the first parameter a filter compiled for insertRequestFromQuery takes. */
export const queryFilterFirstParam = 13;
