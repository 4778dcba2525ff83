-- Enhancements keep their record's id without a foreign key. The key was checked row by row (a
-- KEY SHARE lock of the record for every enhancement, one query each); insertEnhancements now
-- takes those locks in one set-based step and inserts only for the records it locked. The
-- retention cleanup, the one place records are deleted, locks the records first and then deletes
-- their enhancements and identifiers with them (deleteAgedOutRecords).
-- Why: docs/internals/0004-ids-without-foreign-keys.md.
alter table enhancements drop constraint enhancements_record_id_fkey;
