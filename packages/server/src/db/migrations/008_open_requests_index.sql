-- Open requests, for the sweeper's look for those whose every item is final but which are still
-- open: a small request created with all its items denied, or a batch's import completed, in a
-- statement of its own, by a process that died before the next statement finished the request.
create index requests_open on requests (id) where status in ('received', 'processing');
