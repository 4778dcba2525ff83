-- Request events for requesters (docs/events.md): `request.started`, `request.progress` (throttled)
-- and `request.finished`, written into the `events` outbox in the same transaction as the change
-- they report (see 003_state_machines.sql); delivered to the request's `callback_url` (webhooks)
-- and streamed (SSE).

-- The shortest time between two `request.progress` events of one request.
create function progress_throttle() returns interval language sql immutable as $$ select interval '1 second' $$;

-- What a started or progress event carries: the request's status and all its counts.
create function request_progress_payload(r requests) returns jsonb language sql stable as $$
  select jsonb_build_object('request_id', r.id, 'status', r.status, 'total', r.total,
    'counts', jsonb_build_object('pending', r.n_pending, 'leased', r.n_leased, 'importing', r.n_importing,
      'completed', r.n_completed, 'discarded', r.n_discarded, 'failed', r.n_failed, 'denied', r.n_denied,
      'expired', r.n_expired, 'cancelled', r.n_cancelled))
$$;

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
