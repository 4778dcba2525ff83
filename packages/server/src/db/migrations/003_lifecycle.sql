-- Request lifecycle: the starvation guard of the lease query and the deadline sweep.

-- The lease query's second pass walks this: a robot's pending items by how long they have
-- been available, oldest first (docs/priorities.md).
create index items_pending_since on items (robot_id, available_at, id) where status = 'pending';

-- The sweeper finds the open requests whose deadline has passed.
create index requests_open_deadline on requests (expires_at) where expires_at is not null and status in ('received', 'processing');
