-- A duration in words, for the messages of items denied or expired for their age (docs/retention.md).
-- Applied at every start when this file changed (db/migrate.ts); migrations hold only tables and data moves
-- (docs/internals/0027-schema-one-can-read.md).

-- In PL/pgSQL rather than SQL: the planner tries to inline every SQL-language function a statement calls, parsing its body
-- each time, and only then finds it cannot (a FROM clause). The create's statement calls it at
-- five places for its denial messages, on the dispatch path
-- (docs/internals/0005-statement-planning.md). A PL/pgSQL function is not considered for
-- inlining; it runs only for the items denied for their age.
create or replace function refinery_duration_text(ms double precision) returns text language plpgsql immutable as $$
declare
  unit text := case when ms < 120000 then 'second' when ms < 7200000 then 'minute' when ms < 172800000 then 'hour' else 'day' end;
  n bigint := floor(ms / case unit when 'second' then 1000 when 'minute' then 60000 when 'hour' then 3600000 else 86400000 end);
begin
  return n || ' ' || unit || case when n = 1 then '' else 's' end;
end $$;
