-- What the dashboard's routes read (docs/dashboard.md, docs/internals/0025-dashboard-reads.md).
-- A request's items that carry an error (failed, denied, expired, cancelled, or pending again
-- after a failed attempt), in item order, with their code and status: the items page filtered by
-- an error status and the errors grouped by code walk only these, not the whole request, and the
-- grouping reads the index alone. Items without an error are never in it, so the moves of items
-- that succeed stay HOT updates.
create index items_with_error on items (request_id, id) include (error_code, status) where error_code is not null;
-- A robot's batches by their last move: its lease expiries, throughput and last contact of the last hour.
create index batches_robot_updated_at on batches (robot_id, updated_at);
-- The events of the last hour, across requests: the overview's throughput.
create index events_created_at on events (created_at);
