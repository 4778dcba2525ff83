-- refinery_duration_text (004_retention.sql) again, in PL/pgSQL: same text for every input.
-- The planner tries to inline every SQL-language function a statement calls, parsing its body
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
