-- Items move with their batch (docs/internals/0030-items-move-with-their-batch.md): an item
-- importing is a `leased` row of an importing batch, shown `importing` through it. The rows the
-- previous store left `importing` (a batch importing at the upgrade) become that. What they show
-- and their requests' counts do not change, so the count trigger is off for the move.
alter table items disable trigger user;
update items set status = 'leased' where status = 'importing';
alter table items enable trigger user;
