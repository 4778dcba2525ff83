-- The lease takes spans of a request's items without writing them (docs/internals/0034-lease-by-span.md):
-- the creates insert items `new` (not written since), which show their request's lease cursor and
-- spans (db/functions/04_item_counts.sql).
alter table items drop constraint items_status_check;
alter table items add constraint items_status_check
  check (status in ('new', 'pending', 'leased', 'importing', 'completed', 'discarded', 'failed', 'denied', 'expired', 'cancelled'));
-- Rows are no longer updated on the hot path: no room is kept for their new versions.
alter table items set (fillfactor = 100);

-- The id of the last item leased by span: the request's `new` items after it are pending.
alter table requests add column lease_cursor bigint not null default 0;
-- The lease walks a robot's open requests, by priority then age.
create index requests_open_by_robot on requests (robot_id, priority desc, created_at) where status in ('received', 'processing');

-- A span: the `new` items of request `request_id` with `lo <= id <= hi`, taken by batch `batch_id`
-- (`n` of them at the lease). A request's spans never overlap.
create table batch_spans (
  batch_id uuid not null,
  request_id uuid not null,
  lo bigint not null,
  hi bigint not null,
  n int not null,
  primary key (request_id, lo)
);
create index batch_spans_batch_id on batch_spans (batch_id);
