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
-- The cleanup walks each type's records oldest first.
create index records_type_created_at on records (type, created_at);

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
  manifest_claimed_until timestamptz,
  -- When the request's last started or progress event was written (docs/events.md).
  progress_at timestamptz,
  -- Its counts moved since, while the throttle held the event back: the sender's trailing pass writes it.
  progress_due boolean not null default false
);
create unique index requests_idempotency_key on requests (requested_by, idempotency_key) where idempotency_key is not null;
create index requests_requested_by on requests (requested_by, id);
create index requests_robot_id on requests (robot_id, id);
create index requests_unwritten_manifest on requests (finished_at) where finished_at is not null and manifest_key is null;
-- The sweeper finds the open requests whose deadline has passed.
create index requests_open_deadline on requests (expires_at) where expires_at is not null and status in ('received', 'processing');
create index requests_progress_due on requests (progress_at) where progress_due;

create table items (
  id bigint generated always as identity primary key,
  request_id uuid not null references requests (id) on delete cascade,
  record_id uuid not null,
  robot_id uuid not null,
  priority smallint not null,
  status text not null check (status in ('pending', 'leased', 'importing', 'completed', 'discarded', 'failed', 'denied', 'expired', 'cancelled')),
  -- The pending indexes are partial on this, not on status, so that no index depends on status:
  -- moves that change nothing else indexed (leased → importing → final) are HOT updates, with no
  -- index writes, kept on the same page (hence the fillfactor).
  queued boolean generated always as (status = 'pending') stored,
  attempts int not null default 0,
  batch_id uuid,
  available_at timestamptz not null,
  enhancement_id uuid,
  error_code text,
  error_message text,
  updated_at timestamptz not null
) with (fillfactor = 50);
-- The lease query walks this: highest priority first, then oldest.
create index items_pending on items (robot_id, priority desc, id) where queued;
create index items_request_id on items (request_id, id);
create index items_batch_id on items (batch_id) where batch_id is not null;
-- The lease query's second pass walks this: a robot's pending items by how long they have
-- been available, oldest first (docs/priorities.md).
create index items_pending_since on items (robot_id, available_at, id) where queued;
-- The cleanup expires the pending items of the records it removes.
create index items_pending_record_id on items (record_id) where queued;

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
-- One request.started per request, found without walking its progress events.
create unique index events_started on events (request_id) where type = 'request.started';

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

-- Retention and decay of records by type (docs/retention.md). A record's age is counted from its
-- created_at: re-sending or enhancing it does not make it younger.
create table record_types (
  type text primary key,
  -- Fully available until this age (ms); with decay, less and less available up to aged_out_ms.
  full_until_ms bigint not null check (full_until_ms >= 0),
  -- Aged out from this age (ms): new items for it are expired, and the cleanup removes it.
  aged_out_ms bigint not null check (aged_out_ms > 0 and aged_out_ms >= full_until_ms),
  -- Between the two ages, deny new items with probability (age - full) / (aged_out - full).
  decay boolean not null default false,
  updated_at timestamptz not null
);
