-- A request is inserted with its items' counts and, when some of them are created leased, started
-- (`processing`, `started_at`, its `request.started` event), by the one statement that creates
-- items (insertRequestWithItems): it knows each item's first status before it inserts either. The
-- insert trigger that counted them afterwards updated the new request row a second time in the
-- same statement (a new row version with all its index entries, its status check, its foreign key
-- check): docs/internals/0001-one-statement-create.md.
drop trigger items_on_insert on items;
drop function items_after_insert();
drop table item_initial_statuses;
