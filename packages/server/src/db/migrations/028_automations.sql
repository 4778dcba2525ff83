-- Automations (docs/automations.md): when an import commits, the records it touched that match an
-- automation's trigger and query become items of a request for the automation's robot.

create table automations (
  id uuid primary key,
  robot_id uuid not null,
  -- The API key that made it: the requests it makes are that key's (requested_by).
  created_by uuid not null,
  -- The trigger: new records of this type, and/or enhancements of this type (from this robot).
  records_type text,
  enhancements_type text,
  enhancements_robot_id uuid,
  -- What narrows it: the query string as sent (null for a JSON filter) and the checked filter.
  query text,
  filter jsonb,
  active boolean not null,
  last_error text,
  last_error_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  check (records_type is not null or enhancements_type is not null)
);
create index automations_created_by on automations (created_by, id);

-- The outbox: one row per import that could trigger an automation, written in the import's own
-- transaction (a records import) or statement (a batch's move to completed), consumed with
-- `for update skip locked` and deleted in the transaction that matches it.
create table automation_outbox (
  id bigint generated always as identity primary key,
  -- 'records': a records import (source_id names it), record_ids the records it created;
  -- 'batch': a batch's results import (source_id is the batch), robot_id the robot that made them.
  kind text not null check (kind in ('records', 'batch')),
  source_id uuid not null,
  robot_id uuid,
  record_ids uuid[],
  created_at timestamptz not null
);

-- Records matched to an automation, waiting for its window to close.
create table automation_matches (
  id bigint generated always as identity primary key,
  automation_id uuid not null,
  record_id uuid not null,
  source_kind text not null,
  source_id uuid not null,
  -- How many automated requests led to this one, it included (1: triggered by a records import).
  depth int not null,
  -- When the import committed: the window is counted from the earliest.
  created_at timestamptz not null
);
create index automation_matches_automation on automation_matches (automation_id, id);

-- What a window gathered: one request for the automation's robot, made with the idempotency key
-- `automation-run:<id>`, so that making it again after a crash finds the first.
create table automation_runs (
  id uuid primary key,
  automation_id uuid not null,
  record_ids uuid[] not null,
  -- [{kind, id}]: the imports and batches that triggered it.
  sources jsonb not null,
  depth int not null,
  request_id uuid,
  error text,
  -- A process making its request holds it until then; past it, another may.
  claimed_until timestamptz,
  created_at timestamptz not null
);
create index automation_runs_automation on automation_runs (automation_id, id);
create unique index automation_runs_request on automation_runs (request_id) where request_id is not null;
create index automation_runs_unmade on automation_runs (created_at) where request_id is null and error is null;

-- The consumer reads a batch's new enhancements by batch.
create index enhancements_batch_id on enhancements (batch_id);

-- An automation added through DESTINY's routes keeps the percolator query it was given, to give it back.
alter table automations add column destiny_query jsonb;
