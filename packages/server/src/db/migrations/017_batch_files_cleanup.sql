-- A batch's files (items, results, validation report) are deleted once the batch has ended and
-- every request with an item in it has finished, REFINERY_BATCH_FILES_RETENTION ago
-- (docs/retention.md). `files_deleted_at`: when they were; reads link to them no more.
-- `files_claimed_until`: the process deleting them holds them until then; if it dies, the next
-- pass after that deletes them again (a missing blob is no error) and marks them.
alter table batches add column files_deleted_at timestamptz, add column files_claimed_until timestamptz;
-- The cleanup walks the ended batches whose files are kept, earliest end first.
create index batches_files_kept on batches (updated_at, id) where status in ('completed', 'failed', 'expired') and files_deleted_at is null;
