-- Request events for requesters (docs/events.md): `request.started`, `request.progress` (throttled)
-- and `request.finished`, written into the `events` outbox in the same transaction as the change
-- they report; delivered to the request's `callback_url` (webhooks) and streamed (SSE).

-- The shortest time between two `request.progress` events of one request.
create function progress_throttle() returns interval language sql immutable as $$ select interval '1 second' $$;

-- progress_at: when the request's last progress (or start) event was written;
-- progress_due: its counts moved since, while the throttle held the event back (the sender's
-- trailing pass writes it once the throttle has passed).
alter table requests add column progress_at timestamptz, add column progress_due boolean not null default false;
create index requests_progress_due on requests (progress_at) where progress_due;

-- Finds a request's `request.started` event without walking all its progress events.
create index events_started on events (request_id) where type = 'request.started';

-- What a started or progress event carries: the request's status and all its counts.
create function request_progress_payload(r requests) returns jsonb language sql stable as $$
  select jsonb_build_object('request_id', r.id, 'status', r.status, 'total', r.total,
    'counts', jsonb_build_object('pending', r.n_pending, 'leased', r.n_leased, 'importing', r.n_importing,
      'completed', r.n_completed, 'discarded', r.n_discarded, 'failed', r.n_failed, 'denied', r.n_denied,
      'expired', r.n_expired, 'cancelled', r.n_cancelled))
$$;

-- A second statement-level trigger on item moves, so items_counts_update stays as it is; it fires
-- after items_counts_on_update (triggers fire in name order), so the counts it reports are moved.
-- "Now" is the moved items' updated_at: every item move sets it from Refinery's clock.
create function items_progress_event() returns trigger language plpgsql as $$
declare started uuid[];
begin
  -- request.started: once, the first time items of a request move while it is processing (the lease).
  with moved as (
    select n.request_id, max(n.updated_at) as at
    from new_items n join old_items o on o.id = n.id
    where n.status <> o.status
    group by n.request_id
  ),
  ins as (
    insert into events (request_id, type, payload, created_at)
    select r.id, 'request.started', request_progress_payload(r), m.at
    from moved m join requests r on r.id = m.request_id
    where r.status = 'processing'
      and not exists (select 1 from events e where e.request_id = r.id and e.type = 'request.started')
    order by r.id
    returning request_id
  )
  select coalesce(array_agg(request_id), '{}') into started from ins;

  -- request.progress: when the last one is older than the throttle; otherwise marked due.
  with moved as (
    select n.request_id, max(n.updated_at) as at
    from new_items n join old_items o on o.id = n.id
    where n.status <> o.status
    group by n.request_id
  ),
  marked as (
    update requests r set
      progress_at = case when r.id = any(started) or r.progress_at is null or r.progress_at <= m.at - progress_throttle() then m.at else r.progress_at end,
      progress_due = not (r.id = any(started) or r.progress_at is null or r.progress_at <= m.at - progress_throttle())
    from (select * from moved order by request_id) m
    where r.id = m.request_id and r.status in ('received', 'processing')
    returning r.id, m.at, r.progress_due
  )
  insert into events (request_id, type, payload, created_at)
  select r.id, 'request.progress', request_progress_payload(r), k.at
  from marked k join requests r on r.id = k.id
  where not k.progress_due and not (k.id = any(started))
  order by r.id;
  return null;
end $$;

create trigger items_progress_on_update after update on items
  referencing old table as old_items new table as new_items
  for each statement execute function items_progress_event();

-- Webhook deliveries, one per event of a request with a callback_url, sent in event order per
-- request: only the earliest undelivered event of a request is ever claimed.
create table webhook_deliveries (
  event_id bigint primary key references events (id) on delete cascade,
  request_id uuid not null,
  attempts int not null default 0,
  next_attempt_at timestamptz not null,
  -- A sender holds a claimed delivery until then; past it, another process may take it over.
  claimed_until timestamptz,
  delivered_at timestamptz,
  last_error text
);
create index webhook_deliveries_undelivered on webhook_deliveries (request_id, event_id) where delivered_at is null;

-- The Standard Webhooks signing secret of each API key (`whsec_…`), made when first needed.
create table webhook_secrets (
  key_id uuid primary key references api_keys (id) on delete cascade,
  secret text not null,
  created_at timestamptz not null
);

-- Every event written, by whatever statement: a delivery when its request has a callback_url,
-- and a NOTIFY (payload: the request id) that wakes the live streams of every process.
create function events_after_insert() returns trigger language plpgsql as $$
begin
  insert into webhook_deliveries (event_id, request_id, next_attempt_at)
  select e.id, e.request_id, e.created_at
  from new_events e join requests r on r.id = e.request_id
  where r.callback_url is not null;
  perform pg_notify('refinery_events', request_id::text) from (select distinct request_id from new_events) d;
  return null;
end $$;

create trigger events_on_insert after insert on events
  referencing new table as new_events
  for each statement execute function events_after_insert();
