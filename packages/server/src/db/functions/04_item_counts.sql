-- Moved items: the move must be allowed; each request's counts follow, and its started or progress event is written.
-- Applied at every start when this file changed (db/migrate.ts); migrations hold only tables and data moves
-- (docs/internals/0027-schema-one-can-read.md).

-- Moved items, checked and counted without joining each old row to its new row.
--
-- Counts: each request's count of a status moves by how many of its new rows hold that status
-- minus how many of its old rows did (rows whose status did not change cancel out).
-- The check: if every pairing of a status the statement's old rows hold with a different one its
-- new rows hold is an allowed move, every actual move is allowed. Only when some pairing is not
-- does the statement join old and new rows to find whether an actual move is illegal. Every
-- statement Refinery runs moves items between statuses that all pair legally (pending → leased,
-- leased → importing, importing → completed, …), so the join (a hash join planned per call, a
-- quarter of a 1,000-item move's time) is no longer made.
create or replace function items_after_update() returns trigger language plpgsql as $$
declare
  bad item_move;
begin
  if exists (
    select 1
    from (select distinct status from old_items) f, (select distinct status from new_items) t
    where f.status <> t.status
      and not exists (select 1 from item_transitions x where x.from_status = f.status and x.to_status = t.status)
  ) then
    -- Planned at every call (execute): a cached plan would keep the join chosen for the first
    -- statement's size.
    execute $q$
      select ni.request_id, oi.status, ni.status, 1, ni.updated_at
      from new_items ni join old_items oi on oi.id = ni.id
      where ni.status <> oi.status
        and not exists (select 1 from item_transitions x where x.from_status = oi.status and x.to_status = ni.status)
      limit 1
    $q$ into bad;
    if bad.from_status is not null then
      perform illegal_move('an item', bad.from_status, bad.to_status);
    end if;
  end if;

  with held as (
    select request_id, status, -count(*)::int as n, null::timestamptz as at from old_items group by 1, 2
    union all
    select request_id, status, count(*)::int, max(updated_at) from new_items group by 1, 2
  ),
  per_request as (
    select * from (
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
    ) d
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
  return null;
end $$;

create or replace trigger items_on_update after update on items
  referencing old table as old_items new table as new_items
  for each statement execute function items_after_update();
