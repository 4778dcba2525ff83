-- The DESTINY-compatible API (docs/destiny.md).
-- A robot speaks Refinery's protocol or DESTINY's: that decides the format of its batches' files
-- (the items file or DESTINY's reference file, the results it writes, the validation report) and,
-- for a push robot, how its batches are delivered.
alter table robots add column protocol text not null default 'refinery' check (protocol in ('refinery', 'destiny'));
-- What a DESTINY robot says of each enhancement beside its content: its provenance and visibility.
-- Set only on enhancements imported from a DESTINY robot, whose content was checked against
-- DESTINY's models: those are the enhancements DESTINY robots are given in their reference files.
alter table enhancements add column source text, add column visibility text check (visibility in ('public', 'restricted', 'hidden'));
-- An enhancement request's `source` (DESTINY: where it came from).
alter table requests add column source text;
