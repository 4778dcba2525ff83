-- The state machines of batches and requests, enforced by the database: the allowed moves are copied from
-- packages/protocol/src/states.ts into the *_transitions tables at every start (db/transitions.ts).
-- Applied at every start when this file changed (db/migrate.ts); migrations hold only tables and data moves
-- (docs/internals/0027-schema-one-can-read.md).

create or replace function illegal_move(machine text, from_status text, to_status text) returns void language plpgsql as $$
begin
  raise exception '% may not move from % to %', machine, from_status, to_status using errcode = 'P0001';
end $$;

-- Batches and requests move one row at a time: a row-level check against the machine's moves
-- (trigger arguments: the transitions table, the machine's name for the message).
create or replace function check_status_move() returns trigger language plpgsql as $$
declare allowed boolean;
begin
  if new.status <> old.status then
    execute format('select exists (select 1 from %I where from_status = $1 and to_status = $2)', tg_argv[0]) into allowed using old.status, new.status;
    if not allowed then
      perform illegal_move(tg_argv[1], old.status, new.status);
    end if;
  end if;
  return new;
end $$;
create or replace trigger batches_check_move before update of status on batches for each row execute function check_status_move('batch_transitions', 'a batch');
create or replace trigger requests_check_move before update of status on requests for each row execute function check_status_move('request_transitions', 'a request');
