-- The three state machines, enforced by the database itself. The allowed moves are written down
-- once, in packages/protocol/src/states.ts, and copied into these tables at every start (see
-- syncTransitions); any statement that tries another move fails and changes nothing.
--
-- Items are moved thousands at a time, so their triggers are statement-level, set-based over the
-- transition tables: one statement updates each request it touches once (counts, progress) and
-- writes its events in the same transaction.

create table item_transitions (from_status text not null, to_status text not null, primary key (from_status, to_status));
create table item_initial_statuses (status text primary key);
create table batch_transitions (from_status text not null, to_status text not null, primary key (from_status, to_status));
create table request_transitions (from_status text not null, to_status text not null, primary key (from_status, to_status));

create function illegal_move(machine text, from_status text, to_status text) returns void language plpgsql as $$
begin
  raise exception '% may not move from % to %', machine, from_status, to_status using errcode = 'P0001';
end $$;

-- Batches and requests move one row at a time: a row-level check against the machine's moves
-- (trigger arguments: the transitions table, the machine's name for the message).
create function check_status_move() returns trigger language plpgsql as $$
declare allowed boolean;
begin
  if new.status <> old.status then
    execute format('select exists (select 1 from %I where from_status = $1 and to_status = $2)', tg_argv[0]) into allowed using old.status, new.status;
    if not allowed then
      perform illegal_move(tg_argv[1], old.status, new.status);
    end if;
  end if;
  return new;
end $$;
create trigger batches_check_move before update of status on batches for each row execute function check_status_move('batch_transitions', 'a batch');
create trigger requests_check_move before update of status on requests for each row execute function check_status_move('request_transitions', 'a request');

-- New items: only in an initial status; the request's total and counts grow with them.
create function items_after_insert() returns trigger language plpgsql as $$
declare bad text;
begin
  select ni.status into bad from new_items ni where ni.status not in (select status from item_initial_statuses) limit 1;
  if bad is not null then
    raise exception 'an item may not be created %', bad using errcode = 'P0001';
  end if;
  update requests r set
    n_pending = r.n_pending + d.pending,
    n_denied = r.n_denied + d.denied,
    n_expired = r.n_expired + d.expired,
    total = r.total + d.total
  from (
    select request_id,
      count(*) filter (where status = 'pending')::int as pending,
      count(*) filter (where status = 'denied')::int as denied,
      count(*) filter (where status = 'expired')::int as expired,
      count(*)::int as total
    from new_items group by request_id order by request_id
  ) d
  where r.id = d.request_id;
  return null;
end $$;

create trigger items_on_insert after insert on items
  referencing new table as new_items
  for each statement execute function items_after_insert();

-- What one statement did to one request's items: `n` items moved from one status to another.
create type item_move as (request_id uuid, from_status text, to_status text, n int, at timestamptz);

-- A processing request whose `request.started` event is not written yet.
create function request_started_due(r requests) returns boolean language sql stable as $$
  select r.status = 'processing' and not exists (select 1 from events e where e.request_id = r.id and e.type = 'request.started')
$$;

-- Which event items moving at `at` earn an open request: `request.started` the first time its items
-- move while it is processing (its first lease), `request.progress` once the throttle has passed;
-- null while the throttle holds (the request is then marked due, see writeDueProgress).
create function progress_event_earned(r requests, at timestamptz) returns text language sql stable as $$
  select case
    when r.status not in ('received', 'processing') then null
    when request_started_due(r) then 'request.started'
    when r.progress_at is null or r.progress_at <= at - progress_throttle() then 'request.progress'
  end
$$;

-- Moved items: the move must be allowed; each request's counts follow, and its started or
-- progress event is written. "Now" is the moved items' updated_at: every move sets it from
-- Refinery's clock.
create function items_after_update() returns trigger language plpgsql as $$
declare
  moves item_move[];
  bad item_move;
begin
  -- The statement's moves, from one join of its old and new rows. Planned at every call (execute):
  -- a cached plan would keep the join chosen for the first statement's size, a nested loop over
  -- one item costing seconds over thousands.
  execute $q$
    select coalesce(array_agg(row(m.request_id, m.from_status, m.to_status, m.n, m.at)::item_move), '{}')
    from (
      select ni.request_id, oi.status as from_status, ni.status as to_status, count(*)::int as n, max(ni.updated_at) as at
      from new_items ni join old_items oi on oi.id = ni.id
      where ni.status <> oi.status
      group by 1, 2, 3
    ) m
  $q$ into moves;
  if cardinality(moves) = 0 then
    return null;
  end if;

  select * into bad from unnest(moves) m
  where not exists (select 1 from item_transitions t where t.from_status = m.from_status and t.to_status = m.to_status)
  limit 1;
  if found then
    perform illegal_move('an item', bad.from_status, bad.to_status);
  end if;

  with per_request as (
    select request_id, max(at) as at,
      coalesce(sum(n) filter (where to_status = 'pending'), 0) - coalesce(sum(n) filter (where from_status = 'pending'), 0) as pending,
      coalesce(sum(n) filter (where to_status = 'leased'), 0) - coalesce(sum(n) filter (where from_status = 'leased'), 0) as leased,
      coalesce(sum(n) filter (where to_status = 'importing'), 0) - coalesce(sum(n) filter (where from_status = 'importing'), 0) as importing,
      coalesce(sum(n) filter (where to_status = 'completed'), 0) as completed,
      coalesce(sum(n) filter (where to_status = 'discarded'), 0) as discarded,
      coalesce(sum(n) filter (where to_status = 'failed'), 0) as failed,
      coalesce(sum(n) filter (where to_status = 'expired'), 0) as expired,
      coalesce(sum(n) filter (where to_status = 'cancelled'), 0) as cancelled
    from unnest(moves) group by request_id
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

create trigger items_on_update after update on items
  referencing old table as old_items new table as new_items
  for each statement execute function items_after_update();
