-- The allowed moves of each state machine, enforced by the database itself. The tables are
-- filled at every start from packages/protocol/src/states.ts (see syncTransitions), so the moves
-- are written down once; any statement that tries another move fails and changes nothing.

create table item_transitions (from_status text not null, to_status text not null, primary key (from_status, to_status));
create table item_initial_statuses (status text primary key);
create table batch_transitions (from_status text not null, to_status text not null, primary key (from_status, to_status));
create table request_transitions (from_status text not null, to_status text not null, primary key (from_status, to_status));

create function illegal_move(machine text, from_status text, to_status text) returns void language plpgsql as $$
begin
  raise exception '% may not move from % to %', machine, from_status, to_status using errcode = 'P0001';
end $$;

create or replace function items_counts_insert() returns trigger language plpgsql as $$
declare bad text;
begin
  select n.status into bad from new_items n where n.status not in (select status from item_initial_statuses) limit 1;
  if bad is not null then
    raise exception 'an item may not be created %', bad using errcode = 'P0001';
  end if;
  with delta as (select request_id, status, count(*)::int as n from new_items group by 1, 2),
  per_request as (
    select request_id,
      coalesce(sum(n) filter (where status = 'pending'), 0) as pending,
      coalesce(sum(n) filter (where status = 'denied'), 0) as denied,
      coalesce(sum(n) filter (where status = 'expired'), 0) as expired,
      sum(n) as total
    from delta group by request_id
  )
  update requests r set
    n_pending = r.n_pending + d.pending,
    n_denied = r.n_denied + d.denied,
    n_expired = r.n_expired + d.expired,
    total = r.total + d.total
  from per_request d
  where r.id = d.request_id;
  return null;
end $$;

create or replace function items_counts_update() returns trigger language plpgsql as $$
declare bad record;
begin
  select o.status as from_status, n.status as to_status into bad
  from new_items n join old_items o on o.id = n.id
  where n.status <> o.status
    and not exists (select 1 from item_transitions t where t.from_status = o.status and t.to_status = n.status)
  limit 1;
  if found then
    perform illegal_move('an item', bad.from_status, bad.to_status);
  end if;
  with moved as (
    select n.request_id, n.status as to_status, o.status as from_status
    from new_items n join old_items o on o.id = n.id
    where n.status <> o.status
  ),
  delta as (
    select request_id, to_status as status, count(*)::int as n from moved group by 1, 2
    union all
    select request_id, from_status, -count(*)::int from moved group by 1, 2
  ),
  per_request as (
    select request_id,
      coalesce(sum(n) filter (where status = 'pending'), 0) as pending,
      coalesce(sum(n) filter (where status = 'leased'), 0) as leased,
      coalesce(sum(n) filter (where status = 'importing'), 0) as importing,
      coalesce(sum(n) filter (where status = 'completed'), 0) as completed,
      coalesce(sum(n) filter (where status = 'discarded'), 0) as discarded,
      coalesce(sum(n) filter (where status = 'failed'), 0) as failed,
      coalesce(sum(n) filter (where status = 'denied'), 0) as denied,
      coalesce(sum(n) filter (where status = 'expired'), 0) as expired,
      coalesce(sum(n) filter (where status = 'cancelled'), 0) as cancelled
    from delta group by request_id
  )
  update requests r set
    n_pending = r.n_pending + d.pending,
    n_leased = r.n_leased + d.leased,
    n_importing = r.n_importing + d.importing,
    n_completed = r.n_completed + d.completed,
    n_discarded = r.n_discarded + d.discarded,
    n_failed = r.n_failed + d.failed,
    n_denied = r.n_denied + d.denied,
    n_expired = r.n_expired + d.expired,
    n_cancelled = r.n_cancelled + d.cancelled
  from (select * from per_request order by request_id) d
  where r.id = d.request_id;
  return null;
end $$;

create function batches_check_move() returns trigger language plpgsql as $$
begin
  if new.status <> old.status and not exists (select 1 from batch_transitions t where t.from_status = old.status and t.to_status = new.status) then
    perform illegal_move('a batch', old.status, new.status);
  end if;
  return new;
end $$;
create trigger batches_check_move before update of status on batches for each row execute function batches_check_move();

create function requests_check_move() returns trigger language plpgsql as $$
begin
  if new.status <> old.status and not exists (select 1 from request_transitions t where t.from_status = old.status and t.to_status = new.status) then
    perform illegal_move('a request', old.status, new.status);
  end if;
  return new;
end $$;
create trigger requests_check_move before update of status on requests for each row execute function requests_check_move();
