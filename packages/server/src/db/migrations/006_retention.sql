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

-- The cleanup walks each type's records oldest first.
create index records_type_created_at on records (type, created_at);

-- The cleanup expires the pending items of the records it removes.
create index items_pending_record_id on items (record_id) where status = 'pending';

-- A duration for a person, in the largest unit that leaves a number of at least 2 ("95 minutes").
create function refinery_duration_text(ms double precision) returns text language sql immutable as $$
  select n || ' ' || unit || case when n = 1 then '' else 's' end
  from (select
    floor(ms / case when ms < 120000 then 1000 when ms < 7200000 then 60000 when ms < 172800000 then 3600000 else 86400000 end)::bigint as n,
    case when ms < 120000 then 'second' when ms < 7200000 then 'minute' when ms < 172800000 then 'hour' else 'day' end as unit) t
$$;
