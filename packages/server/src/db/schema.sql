-- The schema of a freshly migrated database, made by `npm run schema`; do not edit (docs/internals/0027-schema-one-can-read.md).
--
-- PostgreSQL database dump
--

--
-- Name: item_move; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.item_move AS (
	request_id uuid,
	from_status text,
	to_status text,
	n integer,
	at timestamp with time zone
);

--
-- Name: span_of(uuid, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.span_of(request_id uuid, item_id bigint) RETURNS TABLE(batch_id uuid, leased_at timestamp with time zone)
    LANGUAGE sql STABLE
    AS $$
  select s.batch_id, b.created_at
  from (select s.batch_id, s.hi from batch_spans s where s.request_id = span_of.request_id and s.lo <= span_of.item_id order by s.lo desc limit 1) s
  join batches b on b.id = s.batch_id
  where span_of.item_id <= s.hi
$$;

--
-- Name: spanned_row_status(text, uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.spanned_row_status(status text, span_batch uuid) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select case when status <> 'new' then status when span_batch is not null then 'leased' else 'pending' end
$$;

--
-- Name: items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.items (
    id bigint NOT NULL,
    request_id uuid NOT NULL,
    record_id uuid NOT NULL,
    robot_id uuid NOT NULL,
    priority smallint NOT NULL,
    status text NOT NULL,
    queued boolean GENERATED ALWAYS AS ((status = 'pending'::text)) STORED,
    attempts integer DEFAULT 0 NOT NULL,
    batch_id uuid,
    available_at timestamp with time zone NOT NULL,
    enhancement_id uuid,
    error_code text,
    error_message text,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT items_status_check CHECK ((status = ANY (ARRAY['new'::text, 'pending'::text, 'leased'::text, 'importing'::text, 'completed'::text, 'discarded'::text, 'failed'::text, 'denied'::text, 'expired'::text, 'cancelled'::text])))
)
WITH (fillfactor='100');

--
-- Name: item_rows; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.item_rows AS
 SELECT i.id,
    i.request_id,
    i.record_id,
    i.robot_id,
    i.priority,
    public.spanned_row_status(i.status, s.batch_id) AS status,
        CASE
            WHEN (s.batch_id IS NOT NULL) THEN 1
            ELSE i.attempts
        END AS attempts,
    COALESCE(s.batch_id, i.batch_id) AS batch_id,
    i.available_at,
    i.enhancement_id,
    i.error_code,
    i.error_message,
    COALESCE(s.leased_at, i.updated_at) AS updated_at,
    i.status AS row_status
   FROM (public.items i
     LEFT JOIN LATERAL public.span_of(i.request_id,
        CASE
            WHEN (i.status = 'new'::text) THEN i.id
            ELSE NULL::bigint
        END) s(batch_id, leased_at) ON (true));

--
-- Name: batch_items(uuid); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.batch_items(b uuid) RETURNS SETOF public.item_rows
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: batch_spans_after_insert(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.batch_spans_after_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: batches_after_move(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.batches_after_move() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: check_status_move(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.check_status_move() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
declare allowed boolean;
begin
  if new.status <> old.status then
    execute format('select exists (select 1 from %I where from_status = $1 and to_status = $2)', tg_argv[0]) into allowed using old.status, new.status;
    if not allowed then
      perform illegal_move(tg_argv[1], old.status, new.status);
    end if;
  end if;
  return new;
end $_$;

--
-- Name: events_after_insert(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.events_after_insert() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
  insert into webhook_deliveries (event_id, request_id, next_attempt_at)
  select e.id, e.request_id, e.created_at
  from new_events e join requests r on r.id = e.request_id
  where r.callback_url is not null;
  perform pg_notify('refinery_events', request_id::text) from (select distinct request_id from new_events) d;
  return null;
end $$;

--
-- Name: has_span_work(uuid, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.has_span_work(robot_id uuid, now timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  select exists (
    select 1 from requests q
    where q.robot_id = has_span_work.robot_id and q.status in ('received', 'processing') and q.n_pending > 0
      and (q.expires_at is null or q.expires_at > now)
      -- A lateral walk with a limit, never a join over all items.
      and exists (select 1 from (select 1 from items i where i.request_id = q.id and i.id > q.lease_cursor and i.status = 'new' order by i.id limit 1) n)
  )
$$;

--
-- Name: illegal_move(text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.illegal_move(machine text, from_status text, to_status text) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  raise exception '% may not move from % to %', machine, from_status, to_status using errcode = 'P0001';
end $$;

--
-- Name: items_after_update(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.items_after_update() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
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
end $_$;

--
-- Name: move_item_counts(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.move_item_counts(d jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: moves_with_batch(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.moves_with_batch(item_status text, batch_status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  select item_status = 'leased' and batch_status in ('importing', 'completed')
$$;

--
-- Name: requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.requests (
    id uuid NOT NULL,
    robot_id uuid NOT NULL,
    requested_by uuid NOT NULL,
    priority smallint NOT NULL,
    status text NOT NULL,
    total integer DEFAULT 0 NOT NULL,
    n_pending integer DEFAULT 0 NOT NULL,
    n_leased integer DEFAULT 0 NOT NULL,
    n_importing integer DEFAULT 0 NOT NULL,
    n_completed integer DEFAULT 0 NOT NULL,
    n_discarded integer DEFAULT 0 NOT NULL,
    n_failed integer DEFAULT 0 NOT NULL,
    n_denied integer DEFAULT 0 NOT NULL,
    n_expired integer DEFAULT 0 NOT NULL,
    n_cancelled integer DEFAULT 0 NOT NULL,
    expires_at timestamp with time zone,
    callback_url text,
    idempotency_key text,
    body_hash text,
    created_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    manifest_key text,
    manifest_claimed_until timestamp with time zone,
    progress_at timestamp with time zone,
    progress_due boolean DEFAULT false NOT NULL,
    retry_of uuid,
    source text,
    query text,
    query_filter jsonb,
    matched integer,
    trace_parent text,
    lease_cursor bigint DEFAULT 0 NOT NULL,
    CONSTRAINT requests_priority_check CHECK (((priority >= 0) AND (priority <= 3))),
    CONSTRAINT requests_status_check CHECK ((status = ANY (ARRAY['received'::text, 'processing'::text, 'completed'::text, 'completed_with_errors'::text, 'failed'::text, 'cancelled'::text, 'expired'::text])))
);

--
-- Name: progress_event_earned(public.requests, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.progress_event_earned(r public.requests, at timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select case
    when r.status not in ('received', 'processing') then null
    when request_started_due(r) then 'request.started'
    when r.progress_at is null or r.progress_at <= at - progress_throttle() then 'request.progress'
  end
$$;

--
-- Name: progress_throttle(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.progress_throttle() RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$ select interval '1 second' $$;

--
-- Name: refinery_duration_text(double precision); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.refinery_duration_text(ms double precision) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
declare
  unit text := case when ms < 120000 then 'second' when ms < 7200000 then 'minute' when ms < 172800000 then 'hour' else 'day' end;
  n bigint := floor(ms / case unit when 'second' then 1000 when 'minute' then 60000 when 'hour' then 3600000 else 86400000 end);
begin
  return n || ' ' || unit || case when n = 1 then '' else 's' end;
end $$;

--
-- Name: request_progress_payload(public.requests); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.request_progress_payload(r public.requests) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select jsonb_build_object('request_id', r.id, 'status', r.status, 'total', r.total,
    'counts', jsonb_build_object('pending', r.n_pending, 'leased', r.n_leased, 'importing', r.n_importing,
      'completed', r.n_completed, 'discarded', r.n_discarded, 'failed', r.n_failed, 'denied', r.n_denied,
      'expired', r.n_expired, 'cancelled', r.n_cancelled))
$$;

--
-- Name: request_started_due(public.requests); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.request_started_due(r public.requests) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  select r.status = 'processing' and not exists (select 1 from events e where e.request_id = r.id and e.type = 'request.started')
$$;

--
-- Name: row_statuses_showing(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.row_statuses_showing(shown text) RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$
  select case when shown in ('importing', 'completed') then array[shown, 'leased', 'new']
    when shown in ('pending', 'leased') then array[shown, 'new'] else array[shown] end
$$;

--
-- Name: shown_item_status(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.shown_item_status(item_status text, batch_status text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
  select case when moves_with_batch(item_status, batch_status) then batch_status else item_status end
$$;

--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id uuid NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    key_hash text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT api_keys_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'requester'::text])))
);

--
-- Name: automation_matches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.automation_matches (
    id bigint NOT NULL,
    automation_id uuid NOT NULL,
    record_id uuid NOT NULL,
    source_kind text NOT NULL,
    source_id uuid NOT NULL,
    depth integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);

--
-- Name: automation_matches_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.automation_matches ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.automation_matches_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: automation_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.automation_outbox (
    id bigint NOT NULL,
    kind text NOT NULL,
    source_id uuid NOT NULL,
    robot_id uuid,
    record_ids uuid[],
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT automation_outbox_kind_check CHECK ((kind = ANY (ARRAY['records'::text, 'batch'::text])))
);

--
-- Name: automation_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.automation_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.automation_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: automation_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.automation_runs (
    id uuid NOT NULL,
    automation_id uuid NOT NULL,
    record_ids uuid[] NOT NULL,
    sources jsonb NOT NULL,
    depth integer NOT NULL,
    request_id uuid,
    error text,
    claimed_until timestamp with time zone,
    created_at timestamp with time zone NOT NULL
);

--
-- Name: automations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.automations (
    id uuid NOT NULL,
    robot_id uuid NOT NULL,
    created_by uuid NOT NULL,
    records_type text,
    enhancements_type text,
    enhancements_robot_id uuid,
    query text,
    filter jsonb,
    active boolean NOT NULL,
    last_error text,
    last_error_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    destiny_query jsonb,
    CONSTRAINT automations_check CHECK (((records_type IS NOT NULL) OR (enhancements_type IS NOT NULL)))
);

--
-- Name: batch_spans; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batch_spans (
    batch_id uuid NOT NULL,
    request_id uuid NOT NULL,
    lo bigint NOT NULL,
    hi bigint NOT NULL,
    n integer NOT NULL
);

--
-- Name: batch_transitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batch_transitions (
    from_status text NOT NULL,
    to_status text NOT NULL
);

--
-- Name: batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batches (
    id uuid NOT NULL,
    robot_id uuid NOT NULL,
    status text NOT NULL,
    attempt integer NOT NULL,
    item_count integer NOT NULL,
    lease_token text NOT NULL,
    lease_expires_at timestamp with time zone NOT NULL,
    items_key text NOT NULL,
    results_key text NOT NULL,
    report_key text,
    error_message text,
    import_expires_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    files_deleted_at timestamp with time zone,
    files_claimed_until timestamp with time zone,
    lease_key text,
    CONSTRAINT batches_status_check CHECK ((status = ANY (ARRAY['leased'::text, 'importing'::text, 'completed'::text, 'failed'::text, 'expired'::text])))
);

--
-- Name: data_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.data_keys (
    id text NOT NULL,
    master_key_id text NOT NULL,
    wrapped bytea NOT NULL,
    next_master_key_id text,
    next_wrapped bytea,
    created_at timestamp with time zone NOT NULL
);

--
-- Name: encrypted_record_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.encrypted_record_types (
    type text NOT NULL,
    sealed_at timestamp with time zone,
    updated_at timestamp with time zone NOT NULL
);

--
-- Name: enhancements; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.enhancements (
    id uuid NOT NULL,
    record_id uuid NOT NULL,
    robot_id uuid NOT NULL,
    request_id uuid NOT NULL,
    batch_id uuid NOT NULL,
    type text NOT NULL,
    content jsonb NOT NULL,
    content_hash text NOT NULL,
    robot_version text,
    derived_from uuid[],
    created_at timestamp with time zone NOT NULL,
    source text,
    visibility text,
    CONSTRAINT enhancements_visibility_check CHECK ((visibility = ANY (ARRAY['public'::text, 'restricted'::text, 'hidden'::text])))
);

--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id bigint NOT NULL,
    request_id uuid NOT NULL,
    type text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL
);

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: item_backlog; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.item_backlog (
    request_id uuid NOT NULL,
    slice integer NOT NULL,
    record_ids bytea NOT NULL
);
ALTER TABLE ONLY public.item_backlog ALTER COLUMN record_ids SET STORAGE EXTERNAL;

--
-- Name: item_transitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.item_transitions (
    from_status text NOT NULL,
    to_status text NOT NULL
);

--
-- Name: items_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.items ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.items_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: record_identifiers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.record_identifiers (
    type text NOT NULL,
    value text NOT NULL,
    record_id uuid NOT NULL
);

--
-- Name: record_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.record_types (
    type text NOT NULL,
    full_until_ms bigint NOT NULL,
    aged_out_ms bigint NOT NULL,
    decay boolean DEFAULT false NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT record_types_check CHECK (((aged_out_ms > 0) AND (aged_out_ms >= full_until_ms))),
    CONSTRAINT record_types_full_until_ms_check CHECK ((full_until_ms >= 0))
);

--
-- Name: records; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.records (
    id uuid NOT NULL,
    type text NOT NULL,
    identifiers jsonb DEFAULT '[]'::jsonb NOT NULL,
    content jsonb DEFAULT 'null'::jsonb NOT NULL,
    visibility text DEFAULT 'public'::text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone,
    content_key text,
    CONSTRAINT records_visibility_check CHECK ((visibility = ANY (ARRAY['public'::text, 'restricted'::text, 'hidden'::text])))
);

--
-- Name: request_transitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.request_transitions (
    from_status text NOT NULL,
    to_status text NOT NULL
);

--
-- Name: robot_nonces; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.robot_nonces (
    robot_id uuid NOT NULL,
    nonce text NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

--
-- Name: robot_secrets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.robot_secrets (
    id uuid NOT NULL,
    robot_id uuid NOT NULL,
    secret text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone
);

--
-- Name: robots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.robots (
    id uuid NOT NULL,
    name text NOT NULL,
    owner text,
    description text,
    accepts text[] NOT NULL,
    produces jsonb NOT NULL,
    needs text[] DEFAULT '{}'::text[] NOT NULL,
    delivery jsonb DEFAULT '{"mode": "pull"}'::jsonb NOT NULL,
    max_batch_size integer NOT NULL,
    lease_ms integer NOT NULL,
    max_attempts integer NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    protocol text DEFAULT 'refinery'::text NOT NULL,
    CONSTRAINT robots_lease_ms_check CHECK ((lease_ms > 0)),
    CONSTRAINT robots_max_attempts_check CHECK ((max_attempts >= 1)),
    CONSTRAINT robots_max_batch_size_check CHECK (((max_batch_size >= 1) AND (max_batch_size <= 10000))),
    CONSTRAINT robots_protocol_check CHECK ((protocol = ANY (ARRAY['refinery'::text, 'destiny'::text])))
);

--
-- Name: schema_functions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_functions (
    file text NOT NULL,
    sha256 text NOT NULL
);

--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.settings (
    key text NOT NULL,
    value text NOT NULL
);

--
-- Name: shown_items; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.shown_items AS
 SELECT i.id,
    i.request_id,
    i.record_id,
    i.robot_id,
    i.priority,
    public.shown_item_status(i.status, b.status) AS status,
    i.attempts,
    i.batch_id,
        CASE
            WHEN (b.status = 'completed'::text) THEN ( SELECT e.id
               FROM public.enhancements e
              WHERE ((e.record_id = i.record_id) AND (e.batch_id = i.batch_id) AND (e.request_id = i.request_id))
             LIMIT 1)
            ELSE i.enhancement_id
        END AS enhancement_id,
    i.error_code,
    i.error_message,
    i.available_at,
        CASE
            WHEN (b.id IS NOT NULL) THEN b.updated_at
            ELSE i.updated_at
        END AS updated_at,
    i.row_status
   FROM (public.item_rows i
     LEFT JOIN public.batches b ON (((b.id = i.batch_id) AND public.moves_with_batch(i.status, b.status))));

--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_deliveries (
    event_id bigint NOT NULL,
    request_id uuid NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    claimed_until timestamp with time zone,
    delivered_at timestamp with time zone,
    last_error text
);

--
-- Name: webhook_secrets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_secrets (
    key_id uuid NOT NULL,
    secret text NOT NULL,
    created_at timestamp with time zone NOT NULL
);

--
-- Name: api_keys api_keys_key_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);

--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);

--
-- Name: automation_matches automation_matches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.automation_matches
    ADD CONSTRAINT automation_matches_pkey PRIMARY KEY (id);

--
-- Name: automation_outbox automation_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.automation_outbox
    ADD CONSTRAINT automation_outbox_pkey PRIMARY KEY (id);

--
-- Name: automation_runs automation_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.automation_runs
    ADD CONSTRAINT automation_runs_pkey PRIMARY KEY (id);

--
-- Name: automations automations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.automations
    ADD CONSTRAINT automations_pkey PRIMARY KEY (id);

--
-- Name: batch_spans batch_spans_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batch_spans
    ADD CONSTRAINT batch_spans_pkey PRIMARY KEY (request_id, lo);

--
-- Name: batch_transitions batch_transitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batch_transitions
    ADD CONSTRAINT batch_transitions_pkey PRIMARY KEY (from_status, to_status);

--
-- Name: batches batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batches
    ADD CONSTRAINT batches_pkey PRIMARY KEY (id);

--
-- Name: data_keys data_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.data_keys
    ADD CONSTRAINT data_keys_pkey PRIMARY KEY (id);

--
-- Name: encrypted_record_types encrypted_record_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.encrypted_record_types
    ADD CONSTRAINT encrypted_record_types_pkey PRIMARY KEY (type);

--
-- Name: enhancements enhancements_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enhancements
    ADD CONSTRAINT enhancements_pkey PRIMARY KEY (id);

--
-- Name: enhancements enhancements_record_id_type_content_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enhancements
    ADD CONSTRAINT enhancements_record_id_type_content_hash_key UNIQUE (record_id, type, content_hash);

--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);

--
-- Name: item_backlog item_backlog_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.item_backlog
    ADD CONSTRAINT item_backlog_pkey PRIMARY KEY (request_id, slice);

--
-- Name: item_transitions item_transitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.item_transitions
    ADD CONSTRAINT item_transitions_pkey PRIMARY KEY (from_status, to_status);

--
-- Name: items items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.items
    ADD CONSTRAINT items_pkey PRIMARY KEY (id);

--
-- Name: record_identifiers record_identifiers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_identifiers
    ADD CONSTRAINT record_identifiers_pkey PRIMARY KEY (type, value);

--
-- Name: record_types record_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_types
    ADD CONSTRAINT record_types_pkey PRIMARY KEY (type);

--
-- Name: records records_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.records
    ADD CONSTRAINT records_pkey PRIMARY KEY (id);

--
-- Name: request_transitions request_transitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.request_transitions
    ADD CONSTRAINT request_transitions_pkey PRIMARY KEY (from_status, to_status);

--
-- Name: requests requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.requests
    ADD CONSTRAINT requests_pkey PRIMARY KEY (id);

--
-- Name: robot_nonces robot_nonces_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.robot_nonces
    ADD CONSTRAINT robot_nonces_pkey PRIMARY KEY (robot_id, nonce);

--
-- Name: robot_secrets robot_secrets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.robot_secrets
    ADD CONSTRAINT robot_secrets_pkey PRIMARY KEY (id);

--
-- Name: robots robots_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.robots
    ADD CONSTRAINT robots_name_key UNIQUE (name);

--
-- Name: robots robots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.robots
    ADD CONSTRAINT robots_pkey PRIMARY KEY (id);

--
-- Name: schema_functions schema_functions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_functions
    ADD CONSTRAINT schema_functions_pkey PRIMARY KEY (file);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (name);

--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (event_id);

--
-- Name: webhook_secrets webhook_secrets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_secrets
    ADD CONSTRAINT webhook_secrets_pkey PRIMARY KEY (key_id);

--
-- Name: automation_matches_automation; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX automation_matches_automation ON public.automation_matches USING btree (automation_id, id);

--
-- Name: automation_runs_automation; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX automation_runs_automation ON public.automation_runs USING btree (automation_id, id);

--
-- Name: automation_runs_request; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX automation_runs_request ON public.automation_runs USING btree (request_id) WHERE (request_id IS NOT NULL);

--
-- Name: automation_runs_unmade; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX automation_runs_unmade ON public.automation_runs USING btree (created_at) WHERE ((request_id IS NULL) AND (error IS NULL));

--
-- Name: automations_created_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX automations_created_by ON public.automations USING btree (created_by, id);

--
-- Name: batch_spans_batch_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batch_spans_batch_id ON public.batch_spans USING btree (batch_id);

--
-- Name: batches_files_kept; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_files_kept ON public.batches USING btree (updated_at, id) WHERE ((status = ANY (ARRAY['completed'::text, 'failed'::text, 'expired'::text])) AND (files_deleted_at IS NULL));

--
-- Name: batches_importing; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_importing ON public.batches USING btree (import_expires_at) WHERE (status = 'importing'::text);

--
-- Name: batches_lease_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX batches_lease_key ON public.batches USING btree (robot_id, lease_key) WHERE (lease_key IS NOT NULL);

--
-- Name: batches_leased; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_leased ON public.batches USING btree (lease_expires_at) WHERE (status = 'leased'::text);

--
-- Name: batches_robot_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_robot_id ON public.batches USING btree (robot_id, id);

--
-- Name: batches_robot_updated_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX batches_robot_updated_at ON public.batches USING btree (robot_id, updated_at);

--
-- Name: events_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_created_at ON public.events USING btree (created_at);

--
-- Name: events_request_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX events_request_id ON public.events USING btree (request_id, id);

--
-- Name: events_started; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX events_started ON public.events USING btree (request_id) WHERE (type = 'request.started'::text);

--
-- Name: items_batch_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_batch_id ON public.items USING btree (batch_id) WHERE (batch_id IS NOT NULL);

--
-- Name: items_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_pending ON public.items USING btree (robot_id, priority DESC, id) WHERE queued;

--
-- Name: items_pending_record_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_pending_record_id ON public.items USING btree (record_id) WHERE queued;

--
-- Name: items_pending_since; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_pending_since ON public.items USING btree (robot_id, available_at, id) WHERE queued;

--
-- Name: items_request_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_request_id ON public.items USING btree (request_id, id);

--
-- Name: items_with_error; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX items_with_error ON public.items USING btree (request_id, id) INCLUDE (error_code) WHERE (error_code IS NOT NULL);

--
-- Name: record_identifiers_record_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX record_identifiers_record_id ON public.record_identifiers USING btree (record_id);

--
-- Name: records_content; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX records_content ON public.records USING gin (content jsonb_path_ops);

--
-- Name: records_expires_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX records_expires_at ON public.records USING btree (expires_at) WHERE (expires_at IS NOT NULL);

--
-- Name: records_identifiers; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX records_identifiers ON public.records USING gin (identifiers jsonb_path_ops);

--
-- Name: records_type_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX records_type_created_at ON public.records USING btree (type, created_at);

--
-- Name: records_type_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX records_type_id ON public.records USING btree (type, id);

--
-- Name: requests_idempotency_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX requests_idempotency_key ON public.requests USING btree (requested_by, idempotency_key) WHERE (idempotency_key IS NOT NULL);

--
-- Name: requests_open_by_robot; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_open_by_robot ON public.requests USING btree (robot_id, priority DESC, created_at) WHERE (status = ANY (ARRAY['received'::text, 'processing'::text]));

--
-- Name: requests_open_deadline; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_open_deadline ON public.requests USING btree (expires_at) WHERE ((expires_at IS NOT NULL) AND (status = ANY (ARRAY['received'::text, 'processing'::text])));

--
-- Name: requests_open_without_open_items; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_open_without_open_items ON public.requests USING btree (id) WHERE ((status = ANY (ARRAY['received'::text, 'processing'::text])) AND (((n_pending + n_leased) + n_importing) = 0));

--
-- Name: requests_progress_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_progress_due ON public.requests USING btree (progress_at) WHERE progress_due;

--
-- Name: requests_requested_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_requested_by ON public.requests USING btree (requested_by, id);

--
-- Name: requests_retry_of; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX requests_retry_of ON public.requests USING btree (retry_of) WHERE (retry_of IS NOT NULL);

--
-- Name: requests_robot_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_robot_id ON public.requests USING btree (robot_id, id);

--
-- Name: requests_unwritten_manifest; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX requests_unwritten_manifest ON public.requests USING btree (finished_at) WHERE ((finished_at IS NOT NULL) AND (manifest_key IS NULL));

--
-- Name: robot_nonces_expires_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX robot_nonces_expires_at ON public.robot_nonces USING btree (expires_at);

--
-- Name: robot_secrets_robot_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX robot_secrets_robot_id ON public.robot_secrets USING btree (robot_id);

--
-- Name: webhook_deliveries_undelivered; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_undelivered ON public.webhook_deliveries USING btree (request_id, event_id) WHERE (delivered_at IS NULL);

--
-- Name: batch_spans batch_spans_on_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER batch_spans_on_insert AFTER INSERT ON public.batch_spans REFERENCING NEW TABLE AS new_spans FOR EACH STATEMENT EXECUTE FUNCTION public.batch_spans_after_insert();

--
-- Name: batches batches_check_move; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER batches_check_move BEFORE UPDATE OF status ON public.batches FOR EACH ROW EXECUTE FUNCTION public.check_status_move('batch_transitions', 'a batch');

--
-- Name: batches batches_on_move; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER batches_on_move AFTER UPDATE OF status ON public.batches FOR EACH ROW WHEN ((((old.status = 'leased'::text) AND (new.status = 'importing'::text)) OR ((old.status = 'importing'::text) AND (new.status = 'completed'::text)))) EXECUTE FUNCTION public.batches_after_move();

--
-- Name: events events_on_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER events_on_insert AFTER INSERT ON public.events REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION public.events_after_insert();

--
-- Name: items items_on_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER items_on_update AFTER UPDATE ON public.items REFERENCING OLD TABLE AS old_items NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION public.items_after_update();

--
-- Name: requests requests_check_move; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER requests_check_move BEFORE UPDATE OF status ON public.requests FOR EACH ROW EXECUTE FUNCTION public.check_status_move('request_transitions', 'a request');

--
-- Name: batches batches_robot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batches
    ADD CONSTRAINT batches_robot_id_fkey FOREIGN KEY (robot_id) REFERENCES public.robots(id);

--
-- Name: events events_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.requests(id) ON DELETE CASCADE;

--
-- Name: requests requests_robot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.requests
    ADD CONSTRAINT requests_robot_id_fkey FOREIGN KEY (robot_id) REFERENCES public.robots(id);

--
-- Name: robot_secrets robot_secrets_robot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.robot_secrets
    ADD CONSTRAINT robot_secrets_robot_id_fkey FOREIGN KEY (robot_id) REFERENCES public.robots(id) ON DELETE CASCADE;

--
-- Name: webhook_deliveries webhook_deliveries_event_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(id) ON DELETE CASCADE;

--
-- Name: webhook_secrets webhook_secrets_key_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_secrets
    ADD CONSTRAINT webhook_secrets_key_id_fkey FOREIGN KEY (key_id) REFERENCES public.api_keys(id) ON DELETE CASCADE;

--
-- PostgreSQL database dump complete
--
