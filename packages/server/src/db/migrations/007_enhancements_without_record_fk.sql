-- Enhancements keep their record's id without a foreign key. The key was checked row by row (a
-- KEY SHARE lock of the record for every enhancement, one query each); insertEnhancements now
-- takes those locks in one set-based step and inserts only for the records it locked. The
-- retention cleanup, the one place records are deleted, locks the records first and then deletes
-- their enhancements and identifiers with them (deleteAgedOutRecords).
-- A 1,000-row insert: 36.7 → 28.2 ms on PostgreSQL, 69.4 → 48.7 ms on PGlite.
alter table enhancements drop constraint enhancements_record_id_fkey;
