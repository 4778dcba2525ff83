-- What an item shows, and how its request's counts move with it.
-- Applied at every start when this file changed (db/migrate.ts); migrations hold only tables and data moves
-- (docs/internals/0027-schema-one-can-read.md).

-- An item that completes with its batch is not written at the fence or the settle: its row stays
-- `leased`, and it shows its batch's status (`importing`, then `completed`) and moment. Only items
-- whose fate differs from their batch's get their row written (docs/internals/0030-items-move-with-their-batch.md).
-- Whether the item of row status `item_status` in a batch of status `batch_status` shows the batch's.
create or replace function moves_with_batch(item_status text, batch_status text) returns boolean language sql immutable as $$
  select item_status = 'leased' and batch_status in ('importing', 'completed')
$$;

-- The status an item of row status `item_status` in a batch of status `batch_status` shows.
create or replace function shown_item_status(item_status text, batch_status text) returns text language sql immutable as $$
  select case when moves_with_batch(item_status, batch_status) then batch_status else item_status end
$$;

-- The row statuses an item showing `shown` may have: a reader filtering on the shown status
-- filters the rows on these first, without looking at their batches. A `new` row shows `pending`,
-- or its span's batch's (docs/internals/0034-lease-by-span.md).
create or replace function row_statuses_showing(shown text) returns text[] language sql immutable as $$
  select case when shown in ('importing', 'completed') then array[shown, 'leased', 'new']
    when shown in ('pending', 'leased') then array[shown, 'new'] else array[shown] end
$$;

-- The lease writes no item (docs/internals/0034-lease-by-span.md): an item not written since the
-- create (row status `new`) is leased by a span of its request's items (`batch_spans`). The span
-- covering item `item_id` of request `request_id` (none for a null id): its batch, and the lease's
-- moment.
create or replace function span_of(request_id uuid, item_id bigint) returns table (batch_id uuid, leased_at timestamptz) language sql stable as $$
  select s.batch_id, b.created_at
  from (select s.batch_id, s.hi from batch_spans s where s.request_id = span_of.request_id and s.lo <= span_of.item_id order by s.lo desc limit 1) s
  join batches b on b.id = s.batch_id
  where span_of.item_id <= s.hi
$$;

-- The status row `status` stands for, `span_batch` the batch of the span covering it (span_of): a
-- `new` row in a span is `leased` in that batch, one not in a span `pending`.
create or replace function spanned_row_status(status text, span_batch uuid) returns text language sql immutable as $$
  select case when status <> 'new' then status when span_batch is not null then 'leased' else 'pending' end
$$;

drop view if exists shown_items;
drop function if exists batch_items(uuid);
drop view if exists item_rows;

-- Every item as its row stands for: a `new` row in a span is the `leased` row of the span's batch
-- (attempt 1, at the lease's moment), one not in a span a `pending` row. `row_status` is the row's own.
-- A statement writing items through it or batch_items also says `i.status = x.row_status`: a row
-- written meanwhile by another is rechecked on its new version, and left.
create view item_rows as
select i.id, i.request_id, i.record_id, i.robot_id, i.priority,
  spanned_row_status(i.status, s.batch_id) as status,
  case when s.batch_id is not null then 1 else i.attempts end as attempts,
  coalesce(s.batch_id, i.batch_id) as batch_id,
  i.available_at, i.enhancement_id, i.error_code, i.error_message,
  coalesce(s.leased_at, i.updated_at) as updated_at,
  i.status as row_status
from items i
left join lateral span_of(i.request_id, case when i.status = 'new' then i.id end) s on true;

-- The rows of item_rows in batch `b`: those written with it and the `new` ones of its spans.
-- Every reader of a batch's items reads this. Not an inlined SQL function: inlined, the planner
-- guesses a span's items at a share of all items and hashes or walks whole tables around them
-- (an items file page joined every record); as a function it counts a batch's size, and each
-- span's items are read by its bounds, planned knowing them.
create function batch_items(b uuid) returns setof item_rows language plpgsql stable rows 1000 as $$
declare
  s record;
  leased_at timestamptz;
begin
  return query
  select i.id, i.request_id, i.record_id, i.robot_id, i.priority, i.status, i.attempts, i.batch_id,
    i.available_at, i.enhancement_id, i.error_code, i.error_message, i.updated_at, i.status
  from items i where i.batch_id = b;
  select x.created_at into leased_at from batches x where x.id = b;
  for s in select request_id, lo, hi from batch_spans where batch_id = b loop
    return query
    select i.id, i.request_id, i.record_id, i.robot_id, i.priority, 'leased'::text, 1, b,
      i.available_at, i.enhancement_id, i.error_code, i.error_message, leased_at, i.status
    from items i where i.request_id = s.request_id and i.id between s.lo and s.hi and i.status = 'new';
  end loop;
end $$;

-- Every item as it shows: every reader of an item's status, moment or enhancement reads this view.
-- The enhancement of an item that completed with its batch is the one its batch imported for it.
create view shown_items as
select i.id, i.request_id, i.record_id, i.robot_id, i.priority,
  shown_item_status(i.status, b.status) as status,
  i.attempts, i.batch_id,
  case when b.status = 'completed' then (
    select e.id from enhancements e where e.record_id = i.record_id and e.batch_id = i.batch_id and e.request_id = i.request_id limit 1
  ) else i.enhancement_id end as enhancement_id,
  i.error_code, i.error_message, i.available_at,
  case when b.id is not null then b.updated_at else i.updated_at end as updated_at,
  i.row_status
from item_rows i
left join batches b on b.id = i.batch_id and moves_with_batch(i.status, b.status);

-- Whether robot `robot_id` has items a lease could take by span at `now`: `new` items after the
-- lease cursor of an open request not past its deadline.
create or replace function has_span_work(robot_id uuid, now timestamptz) returns boolean language sql stable as $$
  select exists (
    select 1 from requests q
    where q.robot_id = has_span_work.robot_id and q.status in ('received', 'processing') and q.n_pending > 0
      and (q.expires_at is null or q.expires_at > now)
      -- A lateral walk with a limit, never a join over all items.
      and exists (select 1 from (select 1 from items i where i.request_id = q.id and i.id > q.lease_cursor and i.status = 'new' order by i.id limit 1) n)
  )
$$;

-- Moves the counts of requests by the deltas `d` (one object per request: `request_id`, `at`, the
-- moment of the move, and the change of each count) and writes the `request.started` or
-- `request.progress` event each earns. Called by the statements that move items: the items'
-- trigger, and a batch's move to `importing` or `completed`, which moves its items without
-- writing them.
create or replace function move_item_counts(d jsonb) returns void language plpgsql as $$
begin
  with per_request as (
    select * from jsonb_to_recordset(d) as t(request_id uuid, at timestamptz, pending int, leased int, importing int,
      completed int, discarded int, failed int, expired int, cancelled int)
    where (pending, leased, importing, completed, discarded, failed, expired, cancelled) <> (0, 0, 0, 0, 0, 0, 0, 0)
  ),
  moved as (
    update requests r set
      n_pending = r.n_pending + d.pending,
      n_leased = r.n_leased + d.leased,
      n_importing = r.n_importing + d.importing,
      n_completed = r.n_completed + d.completed,
      n_discarded = r.n_discarded + d.discarded,
      n_failed = r.n_failed + d.failed,
      n_expired = r.n_expired + d.expired,
      n_cancelled = r.n_cancelled + d.cancelled,
      progress_at = case when progress_event_earned(r, d.at) is not null then d.at else r.progress_at end,
      progress_due = case when r.status in ('received', 'processing') then progress_event_earned(r, d.at) is null else r.progress_due end
    from (select * from per_request order by request_id) d
    where r.id = d.request_id
    returning r as req, d.at
  )
  insert into events (request_id, type, payload, created_at)
  select (m.req).id,
    case when request_started_due(m.req) then 'request.started' else 'request.progress' end,
    request_progress_payload(m.req), m.at
  from moved m
  where (m.req).status in ('received', 'processing') and not (m.req).progress_due and (m.req).progress_at = m.at
  order by (m.req).id
  -- Two processes starting one request at the same moment write one request.started.
  on conflict (request_id) where type = 'request.started' do nothing;
end $$;

-- Moved items, checked and counted without joining each old row to its new row, by the status
-- each row shows (a `leased` row of an importing or completed batch shows the batch's; a `new` row
-- was `pending`, or `leased` in its span's batch: span_of).
--
-- Counts: each request's count of a status moves by how many of its new rows show that status
-- minus how many of its old rows did (rows whose status did not change cancel out).
-- The check: if every pairing of a status the statement's old rows show with a different one its
-- new rows show is an allowed move, every actual move is allowed. Only when some pairing is not
-- does the statement join old and new rows to find whether an actual move is illegal. Every
-- statement Refinery runs moves items between statuses that all pair legally (pending → leased,
-- importing → failed, …), so the join (a hash join planned per call, a quarter of a 1,000-item
-- move's time) is no longer made.
create or replace function items_after_update() returns trigger language plpgsql as $$
declare
  bad item_move;
  deltas jsonb;
  -- The old rows as they stood (a `new` row mapped through its span): ids, requests, statuses, batches.
  o_ids bigint[];
  o_requests uuid[];
  o_statuses text[];
  o_batches uuid[];
  -- The batches whose `leased` rows here show the batch's status, and that status.
  moving_ids uuid[];
  moving_statuses text[];
begin
  select array_agg(o.id), array_agg(o.request_id),
    array_agg(spanned_row_status(o.status, s.batch_id)),
    array_agg(coalesce(s.batch_id, o.batch_id))
  into o_ids, o_requests, o_statuses, o_batches
  from old_items o left join lateral span_of(o.request_id, case when o.status = 'new' then o.id end) s on true;

  select coalesce(array_agg(b.id), '{}'), coalesce(array_agg(b.status), '{}') into moving_ids, moving_statuses
  from batches b
  where b.id = any(array(select o.batch_id from unnest(o_statuses, o_batches) o(status, batch_id) where o.status = 'leased'
      union select batch_id from new_items where status = 'leased'))
    and moves_with_batch('leased', b.status);

  if exists (
    select 1
    from (select distinct coalesce(m.status, o.status) as status from unnest(o_statuses, o_batches) o(status, batch_id) left join unnest(moving_ids, moving_statuses) m(id, status) on m.id = o.batch_id and o.status = 'leased') f,
      (select distinct coalesce(m.status, ni.status) as status from new_items ni left join unnest(moving_ids, moving_statuses) m(id, status) on m.id = ni.batch_id and ni.status = 'leased') t
    where f.status <> t.status
      and not exists (select 1 from item_transitions x where x.from_status = f.status and x.to_status = t.status)
  ) then
    -- Planned at every call (execute): a cached plan would keep the join chosen for the first
    -- statement's size.
    execute $q$
      select ni.request_id, f.status, t.status, 1, ni.updated_at
      from new_items ni join unnest($3::bigint[], $4::text[], $5::uuid[]) oi(id, status, batch_id) on oi.id = ni.id
      cross join lateral (select coalesce((select m.status from unnest($1::uuid[], $2::text[]) m(id, status) where m.id = oi.batch_id and oi.status = 'leased'), oi.status) as status) f
      cross join lateral (select coalesce((select m.status from unnest($1::uuid[], $2::text[]) m(id, status) where m.id = ni.batch_id and ni.status = 'leased'), ni.status) as status) t
      where t.status <> f.status
        and not exists (select 1 from item_transitions x where x.from_status = f.status and x.to_status = t.status)
      limit 1
    $q$ into bad using moving_ids, moving_statuses, o_ids, o_statuses, o_batches;
    if bad.from_status is not null then
      perform illegal_move('an item', bad.from_status, bad.to_status);
    end if;
  end if;

  -- Counted by what the rows show: a `leased` row of an importing or completed batch counts as its batch's status.
  with held as (
    select o.request_id, coalesce(m.status, o.status) as status, -count(*)::int as n, null::timestamptz as at
    from unnest(o_requests, o_statuses, o_batches) o(request_id, status, batch_id) left join unnest(moving_ids, moving_statuses) m(id, status) on m.id = o.batch_id and o.status = 'leased'
    group by 1, 2
    union all
    select ni.request_id, coalesce(m.status, ni.status), count(*)::int, max(ni.updated_at)
    from new_items ni left join unnest(moving_ids, moving_statuses) m(id, status) on m.id = ni.batch_id and ni.status = 'leased'
    group by 1, 2
  )
  select jsonb_agg(jsonb_build_object('request_id', request_id, 'at', at,
      'pending', pending, 'leased', leased, 'importing', importing, 'completed', completed,
      'discarded', discarded, 'failed', failed, 'expired', expired, 'cancelled', cancelled))
  into deltas
  from (
    select request_id, max(at) as at,
      coalesce(sum(n) filter (where status = 'pending'), 0) as pending,
      coalesce(sum(n) filter (where status = 'leased'), 0) as leased,
      coalesce(sum(n) filter (where status = 'importing'), 0) as importing,
      coalesce(sum(n) filter (where status = 'completed'), 0) as completed,
      coalesce(sum(n) filter (where status = 'discarded'), 0) as discarded,
      coalesce(sum(n) filter (where status = 'failed'), 0) as failed,
      coalesce(sum(n) filter (where status = 'expired'), 0) as expired,
      coalesce(sum(n) filter (where status = 'cancelled'), 0) as cancelled
    from held group by request_id
  ) d;
  if deltas is not null then
    perform move_item_counts(deltas);
  end if;
  return null;
end $$;

create or replace trigger items_on_update after update on items
  referencing old table as old_items new table as new_items
  for each statement execute function items_after_update();

-- A batch moving to `importing` (the fence) or `completed` moves the counts of the items still
-- `leased` in it (its rows `leased` and its spans' `new` rows), by request, from the status they showed to the batch's: the items move with it
-- without being written. Its statements run after the batch row is locked, each seeing what
-- committed before (a cancel or a deadline that closed some of its items first): whatever writes
-- an item of a batch locks the batch row first.
create or replace function batches_after_move() returns trigger language plpgsql as $$
declare
  deltas jsonb;
begin
  select jsonb_agg(jsonb_build_object('request_id', c.request_id, 'at', new.updated_at,
      'pending', 0, 'leased', case when old.status = 'leased' then -c.n else 0 end,
      'importing', case when new.status = 'importing' then c.n when old.status = 'importing' then -c.n else 0 end,
      'completed', case when new.status = 'completed' then c.n else 0 end,
      'discarded', 0, 'failed', 0, 'expired', 0, 'cancelled', 0))
  into deltas
  from (select i.request_id, count(*)::int as n from batch_items(new.id) i where i.status = 'leased' group by 1) c;
  if deltas is not null then
    perform move_item_counts(deltas);
  end if;
  return null;
end $$;

create or replace trigger batches_on_move after update of status on batches
  for each row when (old.status = 'leased' and new.status = 'importing' or old.status = 'importing' and new.status = 'completed')
  execute function batches_after_move();

-- The lease takes spans without writing their items (docs/internals/0034-lease-by-span.md): their
-- requests' counts move from pending to leased here, `n` a span, at the lease's moment.
create or replace function batch_spans_after_insert() returns trigger language plpgsql as $$
declare
  deltas jsonb;
begin
  select jsonb_agg(jsonb_build_object('request_id', c.request_id, 'at', c.at,
      'pending', -c.n, 'leased', c.n, 'importing', 0, 'completed', 0, 'discarded', 0, 'failed', 0, 'expired', 0, 'cancelled', 0))
  into deltas
  from (select s.request_id, sum(s.n)::int as n, max(b.created_at) as at from new_spans s join batches b on b.id = s.batch_id group by 1) c;
  if deltas is not null then
    perform move_item_counts(deltas);
  end if;
  return null;
end $$;

create or replace trigger batch_spans_on_insert after insert on batch_spans
  referencing new table as new_spans
  for each statement execute function batch_spans_after_insert();
