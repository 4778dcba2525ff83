-- items_with_error held each item's status: a column in any index, even in a partial index's
-- INCLUDE that the row never enters, keeps every update that changes it from being HOT, so every
-- item's fence and settle wrote index entries and twice the WAL (docs/internals/0025-dashboard-reads.md).
drop index items_with_error;
create index items_with_error on items (request_id, id) include (error_code) where error_code is not null;

-- The automations read a batch's enhancements through its items (docs/internals/0024): this index
-- cost every enhancement one more entry.
drop index enhancements_batch_id;
