-- Identifiers keep their record's id without a foreign key, as enhancements do (007). The key was
-- checked row by row after the insert: a query and a KEY SHARE lock of the record per identifier,
-- most of a large import's identifiers insert (docs/internals/0004-ids-without-foreign-keys.md).
-- The import inserts identifiers only for the records it has just inserted or updated; the
-- retention cleanup, the one place records are deleted, deletes their identifiers with them
-- (deleteAgedOutRecords), and the two never overlap: both hold the import lock (holdImportLock).
alter table record_identifiers drop constraint record_identifiers_record_id_fkey;
