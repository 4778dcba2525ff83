-- Requests by query (docs/queries.md): the query a request was made with, as sent (`query`, a
-- query string) and as it ran (`query_filter`, the RecordFilter), and how many records it matched.
-- All null for a request of record ids.
alter table requests add column query text;
alter table requests add column query_filter jsonb;
alter table requests add column matched int;
