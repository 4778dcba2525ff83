-- Retention (docs/retention.md): how a record's age is told to a person.

-- A duration for a person, in the largest unit that leaves a number of at least 2 ("95 minutes").
create function refinery_duration_text(ms double precision) returns text language sql immutable as $$
  select n || ' ' || unit || case when n = 1 then '' else 's' end
  from (select
    floor(ms / case when ms < 120000 then 1000 when ms < 7200000 then 60000 when ms < 172800000 then 3600000 else 86400000 end)::bigint as n,
    case when ms < 120000 then 'second' when ms < 7200000 then 'minute' when ms < 172800000 then 'hour' else 'day' end as unit) t
$$;
