-- Refinery's schema. State lists mirror packages/protocol/src/states.ts.

create table settings (
  key text primary key,
  value text not null
);

create table api_keys (
  id uuid primary key,
  name text not null,
  role text not null check (role in ('admin', 'requester')),
  key_hash text not null unique,
  created_at timestamptz not null,
  revoked_at timestamptz
);

create table records (
  id uuid primary key,
  type text not null,
  identifiers jsonb not null default '[]',
  content jsonb not null default 'null',
  visibility text not null default 'public' check (visibility in ('public', 'restricted', 'hidden')),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  expires_at timestamptz
);
create index records_type_id on records (type, id);
create index records_expires_at on records (expires_at) where expires_at is not null;

-- Each (type, value) pair belongs to one record: the key records are upserted by.
create table record_identifiers (
  type text not null,
  value text not null,
  record_id uuid not null references records (id) on delete cascade,
  primary key (type, value)
);
create index record_identifiers_record_id on record_identifiers (record_id);

create table robots (
  id uuid primary key,
  name text not null unique,
  owner text,
  description text,
  accepts text[] not null,
  produces jsonb not null,
  needs text[] not null default '{}',
  delivery jsonb not null default '{"mode":"pull"}',
  max_batch_size int not null check (max_batch_size between 1 and 10000),
  lease_ms int not null check (lease_ms > 0),
  max_attempts int not null check (max_attempts >= 1),
  active boolean not null default true,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

-- Robots sign with HMAC, so the secret itself must be kept; at most two are live (rotation).
create table robot_secrets (
  id uuid primary key,
  robot_id uuid not null references robots (id) on delete cascade,
  secret text not null,
  created_at timestamptz not null,
  expires_at timestamptz
);
create index robot_secrets_robot_id on robot_secrets (robot_id);

-- Nonces seen within the signature freshness window; a second use is a replay.
create table robot_nonces (
  robot_id uuid not null,
  nonce text not null,
  expires_at timestamptz not null,
  primary key (robot_id, nonce)
);
create index robot_nonces_expires_at on robot_nonces (expires_at);

create table requests (
  id uuid primary key,
  robot_id uuid not null references robots (id),
  requested_by uuid not null,
  priority smallint not null check (priority between 0 and 3),
  status text not null check (status in ('received', 'processing', 'completed', 'completed_with_errors', 'failed', 'cancelled', 'expired')),
  total int not null default 0,
  -- Item counts by status: moved by the items_counts triggers in the same statement as the items.
  n_pending int not null default 0,
  n_leased int not null default 0,
  n_importing int not null default 0,
  n_completed int not null default 0,
  n_discarded int not null default 0,
  n_failed int not null default 0,
  n_denied int not null default 0,
  n_expired int not null default 0,
  n_cancelled int not null default 0,
  expires_at timestamptz,
  callback_url text,
  idempotency_key text,
  body_hash text,
  created_at timestamptz not null,
  started_at timestamptz,
  finished_at timestamptz,
  manifest_key text,
  manifest_claimed_until timestamptz
);
create unique index requests_idempotency_key on requests (requested_by, idempotency_key) where idempotency_key is not null;
create index requests_requested_by on requests (requested_by, id);
create index requests_robot_id on requests (robot_id, id);
create index requests_unwritten_manifest on requests (finished_at) where finished_at is not null and manifest_key is null;

create table items (
  id bigint generated always as identity primary key,
  request_id uuid not null references requests (id) on delete cascade,
  record_id uuid not null,
  robot_id uuid not null,
  priority smallint not null,
  status text not null check (status in ('pending', 'leased', 'importing', 'completed', 'discarded', 'failed', 'denied', 'expired', 'cancelled')),
  attempts int not null default 0,
  batch_id uuid,
  available_at timestamptz not null,
  enhancement_id uuid,
  error_code text,
  error_message text,
  updated_at timestamptz not null
);
-- The lease query walks this: highest priority first, then oldest.
create index items_pending on items (robot_id, priority desc, id) where status = 'pending';
create index items_request_id on items (request_id, id);
create index items_batch_id on items (batch_id) where batch_id is not null;

create table batches (
  id uuid primary key,
  robot_id uuid not null references robots (id),
  status text not null check (status in ('leased', 'importing', 'completed', 'failed', 'expired')),
  attempt int not null,
  item_count int not null,
  lease_token text not null,
  lease_expires_at timestamptz not null,
  items_key text not null,
  results_key text not null,
  report_key text,
  error_message text,
  import_expires_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index batches_leased on batches (lease_expires_at) where status = 'leased';
create index batches_importing on batches (import_expires_at) where status = 'importing';
create index batches_robot_id on batches (robot_id, id);

create table enhancements (
  id uuid primary key,
  record_id uuid not null references records (id) on delete cascade,
  robot_id uuid not null,
  request_id uuid not null,
  batch_id uuid not null,
  type text not null,
  content jsonb not null,
  content_hash text not null,
  robot_version text,
  derived_from uuid[],
  created_at timestamptz not null,
  unique (record_id, type, content_hash)
);

-- The outbox: events written in the same transaction as the change they report.
create table events (
  id bigint generated always as identity primary key,
  request_id uuid not null references requests (id) on delete cascade,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null
);
create index events_request_id on events (request_id, id);

-- Request counts follow their items: one statement-level trigger per kind of change,
-- set-based over the transition tables, so a 100,000-item statement updates each request once.

create function items_counts_insert() returns trigger language plpgsql as $$
begin
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

create trigger items_counts_on_insert after insert on items
  referencing new table as new_items
  for each statement execute function items_counts_insert();

create function items_counts_update() returns trigger language plpgsql as $$
begin
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

create trigger items_counts_on_update after update on items
  referencing old table as old_items new table as new_items
  for each statement execute function items_counts_update();
