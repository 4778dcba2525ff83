-- Items keep their request's id without a foreign key. Items are inserted only together with
-- their request, in the one statement that creates both (insertRequestWithItems), and requests
-- are never deleted; the per-row check (a KEY SHARE lock of the request row for every item) was
-- a large share of a large create's time (docs/internals/0004-ids-without-foreign-keys.md).
alter table items drop constraint items_request_id_fkey;
