-- A large request's items beyond its first slice, waiting to be written (docs/large-requests.md): the
-- create commits the request, its first slice of items and the rest here, deduplicated, in request
-- order, 16 bytes an id; writeBacklogSlices turns one row at a time into items while the robots
-- work on the first. A row is deleted in the statement that writes its items, so a crash loses
-- none and writes none twice. The request counts these items `pending` from its create.
create table item_backlog (
  request_id uuid not null,
  slice int not null,
  record_ids bytea not null,
  primary key (request_id, slice)
);
-- Ids do not compress: stored out of line as they are.
alter table item_backlog alter column record_ids set storage external;
