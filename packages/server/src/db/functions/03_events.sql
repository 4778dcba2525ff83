-- Request events (docs/events.md): what they carry, when they are earned, and what writing one sets off.
-- Applied at every start when this file changed (db/migrate.ts); migrations hold only tables and data moves
-- (docs/internals/0027-schema-one-can-read.md).

-- The shortest time between two `request.progress` events of one request.
create or replace function progress_throttle() returns interval language sql immutable as $$ select interval '1 second' $$;

-- What a started or progress event carries: the request's status and all its counts.
create or replace function request_progress_payload(r requests) returns jsonb language sql stable as $$
  select jsonb_build_object('request_id', r.id, 'status', r.status, 'total', r.total,
    'counts', jsonb_build_object('pending', r.n_pending, 'leased', r.n_leased, 'importing', r.n_importing,
      'completed', r.n_completed, 'discarded', r.n_discarded, 'failed', r.n_failed, 'denied', r.n_denied,
      'expired', r.n_expired, 'cancelled', r.n_cancelled))
$$;

-- Every event written, by whatever statement: a delivery when its request has a callback_url,
-- and a NOTIFY (payload: the request id) that wakes the live streams of every process.
create or replace function events_after_insert() returns trigger language plpgsql as $$
begin
  insert into webhook_deliveries (event_id, request_id, next_attempt_at)
  select e.id, e.request_id, e.created_at
  from new_events e join requests r on r.id = e.request_id
  where r.callback_url is not null;
  perform pg_notify('refinery_events', request_id::text) from (select distinct request_id from new_events) d;
  return null;
end $$;

create or replace trigger events_on_insert after insert on events
  referencing new table as new_events
  for each statement execute function events_after_insert();

-- A processing request whose `request.started` event is not written yet.
create or replace function request_started_due(r requests) returns boolean language sql stable as $$
  select r.status = 'processing' and not exists (select 1 from events e where e.request_id = r.id and e.type = 'request.started')
$$;

-- Which event items moving at `at` earn an open request: `request.started` the first time its items
-- move while it is processing (its first lease), `request.progress` once the throttle has passed;
-- null while the throttle holds (the request is then marked due, see writeDueProgress).
create or replace function progress_event_earned(r requests, at timestamptz) returns text language sql stable as $$
  select case
    when r.status not in ('received', 'processing') then null
    when request_started_due(r) then 'request.started'
    when r.progress_at is null or r.progress_at <= at - progress_throttle() then 'request.progress'
  end
$$;
