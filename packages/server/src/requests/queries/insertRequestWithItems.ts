import { itemInitialStatuses } from '@refinery/protocol';
import { firstPageSql, type HandoffLease, type LeasedBatch } from '../../batches/index.ts';
import { commitUnflushed, planFor, type Queryable } from '../../db/index.ts';
import { notifyWorkOf } from '../../work/index.ts';
import { checkedItemsSql, checkedStatusSql, itemErrorMessageSql, unpackedIdsSql } from './itemFates.ts';
import type { RecordIdList } from '../requestBody.ts';
import { requestColumns, type RequestRow } from './requestRow.ts';

export interface RequestInsert {
  /** The robot's name and whether it takes requests; null when no robot has that id. */
  robot: { name: string; active: boolean } | null;
  /** The request as inserted, with its items counted; null when nothing was inserted (the idempotency key was used, or the request retried already). */
  request: RequestRow | null;
  /** Items created `pending`; the robot was woken (at commit) when there are any. */
  pending: number;
  /** The batch leased in the same statement for the waiting long poll (`handoff`), if any item went to it. */
  batch: LeasedBatch | null;
  /** Whether some of its items wait in its backlog (`slice`). */
  backlog: boolean;
}

/**
 * A new request's counts are of the statuses an item may be created in (its other counts start at
 * 0), with the items left in its backlog (`backlog`: an SQL count) among the pending.
 */
const initialCounts = (backlog: string) =>
  [`count(*)::int + ${backlog} as total`, ...itemInitialStatuses.map((s) => `count(*) filter (where status = '${s}')::int${s === 'pending' ? ` + ${backlog}` : ''} as ${s}`)].join(',\n    ');

/**
 * Accepts a request in one statement: the request row (unless the robot is unknown or paused, the
 * idempotency key was used or, for a retry, the request was retried already), its items, and the
 * robot's wake-up. Items are `pending`, or `denied` / `expired` at once with the reason, by joining
 * the record ids (16 bytes each, in one `bytea`: see RecordIdList) against the records
 * (checkedItemsSql); duplicate ids count once.
 * The request is inserted counted, after its items' fates are known and before the items
 * themselves: the counts start here, and the items triggers move them from then on
 * (003_state_machines.sql, 011_items_created_counted.sql).
 *
 * With `slice`, a request of more ids than that is written in slices (docs/large-requests.md):
 * this statement creates the items of the first `slice` distinct ids, in request order, and puts
 * the rest in the request's backlog, `slice` ids a row, counted pending; writeBacklogSlices
 * writes those after the commit.
 *
 * With `handoff` (a long poll of the robot waits in this process: docs/dispatch.md) the first
 * `limit` pending items are created `leased` instead, in a new batch, whose first page of the
 * items file comes back as leaseItems' does, and the request starts (`processing`, its
 * `request.started` event) as at a first lease, under the poll's idempotency key if it gave one
 * (docs/internals/0021-lost-lease-answers.md). Not when other
 * items of the robot's are available: a lease would take those first (priorities, fairness).
 * Its commit then does not wait for the WAL flush, so that the batch reaches the robot sooner: the
 * caller must flushWal before it tells the requester the request is accepted.
 */
export async function insertRequestWithItems(
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
    /** The request this one retries (POST /v1/requests/{id}/retry), if it is a retry. */
    retryOf?: string | null;
    recordIds: RecordIdList;
    now: Date;
    handoff: HandoffLease | null;
    /** Ids a slice (see above); null writes every item now. */
    slice: number | null;
  },
): Promise<RequestInsert> {
  const h = p.handoff;
  const sliced = p.slice !== null && p.recordIds.length > p.slice;
  if (sliced && h) throw new Error('a request written in slices is not handed to a waiting poll');
  // Whether checked item `c` goes to the waiting poll's batch (the `handed` CTE).
  const leased = h ? 'hd.record_id is not null' : 'false';
  const { rows } = await db.query<RequestRow & { name: string; active: boolean; pending: number; batch_item_count: number | null; batch_lease_expires_at: Date | null; first_page: string | null; first_page_last: string | null }>(
    `
with robot as (
  select r.* from robots r where r.id = $3::uuid
),
-- Each id once, at its first place, in id order: the records are then looked up in the order of
-- their index (and, ids being time-ordered, of their table), so that each page is read once. In
-- the order of a hash, a create whose records outgrew shared_buffers read them at random and wrote
-- most pages back (hint bits): docs/internals/0001-one-statement-create.md.
${sliced ? 'distinct_ids' : 'wanted'} as (
  select distinct on (record_id) record_id, ord from (${unpackedIdsSql('$2::bytea')}) ids
  -- Not for a paused robot, nor for a key used already, nor for a request retried already (the
  -- insert's ON CONFLICT below is what settles a race between two such calls; this spares the
  -- repeat its records' join).
  where exists (select 1 from robot where robot.active)
    and ($9::text is null or not exists (select 1 from requests x where x.requested_by = $6::uuid and x.idempotency_key = $9::text))
    and ($11::uuid is null or not exists (select 1 from requests x where x.retry_of = $11::uuid))
  order by record_id, ord
),${
      sliced
        ? `
numbered as (
  select record_id, ord, (row_number() over (order by ord) - 1) / $12::int as slice from distinct_ids
),
wanted as (
  select record_id, ord from numbered where slice = 0 order by record_id
),`
        : ''
    }
${checkedItemsSql('$5::timestamptz')},${
      h
        ? `
handed as (
  select c.record_id from checked c
  where c.error_code is null
    and not exists (select 1 from items i where i.robot_id = $3::uuid and i.queued and i.available_at <= $5::timestamptz)
  order by c.ord
  limit $13::int
),`
        : ''
    }
-- Each item's first status: one of itemInitialStatuses.
fated as (
  select c.*,
    case when ${leased} then 'leased' else ${checkedStatusSql} end as status
  from checked c${h ? ' left join handed hd on hd.record_id = c.record_id' : ''}
),
counted as (
  select ${initialCounts(sliced ? '(select count(*) from numbered where slice > 0)::int' : '0')}
  from fated
),
-- The request, counted already; started as at a first lease if any item went to the waiting poll.
request as (
  insert into requests (id, robot_id, requested_by, priority, status, total, ${itemInitialStatuses.map((s) => `n_${s}`).join(', ')},
    expires_at, callback_url, idempotency_key, body_hash, retry_of, created_at, started_at, progress_at)
  select $1::uuid, robot.id, $6::uuid, $4::smallint, case when counted.leased > 0 then 'processing' else 'received' end,
    counted.total, ${itemInitialStatuses.map((s) => `counted.${s}`).join(', ')},
    $7::timestamptz, $8::text, $9::text, $10::text, $11::uuid, $5::timestamptz,
    case when counted.leased > 0 then $5::timestamptz end, case when counted.leased > 0 then $5::timestamptz end
  from robot cross join counted where robot.active
  -- Either unique index: (requested_by, idempotency_key) or retry_of.
  on conflict do nothing
  returning *
),
started as (
  insert into events (request_id, type, payload, created_at)
  select q.id, 'request.started', request_progress_payload(row(q.*)::requests), q.created_at
  from request q where q.status = 'processing'
),
inserted as (
  insert into items (request_id, record_id, robot_id, priority, status, attempts, batch_id, available_at, error_code, error_message, updated_at)
  select $1::uuid, f.record_id, $3::uuid, $4::smallint, f.status,
    case when f.status = 'leased' then 1 else 0 end,
    ${h ? `case when f.status = 'leased' then $12::uuid end` : 'null::uuid'},
    $5::timestamptz,
    f.error_code,
    ${itemErrorMessageSql},
    $5::timestamptz
  from fated f cross join robot
  where exists (select 1 from request)
  order by f.ord
  returning id, record_id, status
)${
      sliced
        ? `,
backlog as (
  insert into item_backlog (request_id, slice, record_ids)
  select $1::uuid, n.slice, string_agg(uuid_send(n.record_id), ''::bytea order by n.ord)
  from numbered n
  where n.slice > 0 and exists (select 1 from request)
  group by n.slice
)`
        : ''
    }${
      h
        ? `,
b as (
  insert into batches (id, robot_id, status, attempt, item_count, lease_token, lease_expires_at, items_key, results_key, lease_key, created_at, updated_at)
  select $12::uuid, $3::uuid, 'leased', 1, count(*), $14::text, $5::timestamptz + make_interval(secs => $15::int / 1000.0), $16::text, $17::text, $18::text, $5::timestamptz, $5::timestamptz
  from inserted where status = 'leased'
  having count(*) > 0
  returning item_count, lease_expires_at
),
page as (
  ${firstPageSql("(select id, record_id from inserted where status = 'leased')", h.needs.length === 0 ? null : '$19::text[]')}
)`
        : ''
    }
select robot.name, robot.active, coalesce(q.n_pending, 0) as pending,
  case when q.n_pending > 0 then ${notifyWorkOf('robot')} end as woken,
  ${h ? 'b.item_count as batch_item_count, b.lease_expires_at as batch_lease_expires_at, page.text as first_page, page.last as first_page_last,' : ''}
  ${requestColumns}
from robot left join request q on true${h ? ` left join b on true cross join page cross join ${commitUnflushed}` : ''}
`,
    [
      p.id,
      p.recordIds.packed,
      p.robotId,
      p.priority,
      p.now.toISOString(),
      p.requestedBy,
      p.expiresAt,
      p.callbackUrl,
      p.idempotencyKey,
      p.bodyHash,
      p.retryOf ?? null,
      ...(h ? [h.batchId, h.limit, h.leaseToken, h.leaseMs, h.itemsKey, h.resultsKey, h.leaseKey ?? null, ...(h.needs.length === 0 ? [] : [h.needs])] : []),
      ...(sliced ? [p.slice] : []),
    ],
    planFor(p.recordIds.length),
  );
  const row = rows[0];
  if (!row) return { robot: null, request: null, pending: 0, batch: null, backlog: false };
  const { name, active, pending, woken: _woken, batch_item_count, batch_lease_expires_at, first_page, first_page_last, ...request } = row as typeof row & { woken: unknown };
  const batch: LeasedBatch | null =
    h && batch_item_count
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
  const inserted = request.id === null ? null : request;
  return { robot: { name, active }, request: inserted, pending, batch, backlog: sliced && inserted !== null && inserted.total > p.slice! };
}
