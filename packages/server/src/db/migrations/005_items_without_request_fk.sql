-- Items keep their request's id without a foreign key. Items are inserted only together with
-- their request, in the one statement that creates both (insertRequestWithItems), and requests
-- are never deleted; the per-row check (a KEY SHARE lock of the request row for every item) was
-- a fifth of the time a 100,000-item request took to create.
alter table items drop constraint items_request_id_fkey;
