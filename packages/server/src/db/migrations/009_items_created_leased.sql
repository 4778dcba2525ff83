-- New items may be created leased: a request's items handed to a robot waiting in a long poll, in
-- the create's own statement (docs/dispatch.md). Their request starts then, as at a first lease:
-- it moves to `processing` with `started_at`, and its `request.started` event is written.
create or replace function items_after_insert() returns trigger language plpgsql as $$
declare bad text;
begin
  select ni.status into bad from new_items ni where ni.status not in (select status from item_initial_statuses) limit 1;
  if bad is not null then
    raise exception 'an item may not be created %', bad using errcode = 'P0001';
  end if;
  with counted as (
    update requests r set
      n_pending = r.n_pending + d.pending,
      n_leased = r.n_leased + d.leased,
      n_denied = r.n_denied + d.denied,
      n_expired = r.n_expired + d.expired,
      total = r.total + d.total,
      status = case when d.leased > 0 and r.status = 'received' then 'processing' else r.status end,
      started_at = case when d.leased > 0 then coalesce(r.started_at, d.at) else r.started_at end,
      progress_at = case when d.leased > 0 and r.status = 'received' then d.at else r.progress_at end
    from (
      select request_id, max(updated_at) as at,
        count(*) filter (where status = 'pending')::int as pending,
        count(*) filter (where status = 'leased')::int as leased,
        count(*) filter (where status = 'denied')::int as denied,
        count(*) filter (where status = 'expired')::int as expired,
        count(*)::int as total
      from new_items group by request_id order by request_id
    ) d
    where r.id = d.request_id
    returning r as req, d.at, d.leased
  )
  insert into events (request_id, type, payload, created_at)
  select (c.req).id, 'request.started', request_progress_payload(c.req), c.at
  from counted c
  -- Items are created with their request, so it has no event yet: it starts here if any is leased.
  where c.leased > 0
  order by (c.req).id
  on conflict (request_id) where type = 'request.started' do nothing;
  return null;
end $$;
