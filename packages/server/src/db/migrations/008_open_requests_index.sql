-- Open requests whose items are all final, for the sweeper (listOpenRequestsWithoutOpenItems):
-- a small request created with all its items denied, or a batch's import completed, in a
-- statement of its own, by a process that died before the next statement finished the request.
-- Normally none, so the sweeper's look is an empty index scan however many requests are open.
create index requests_open_without_open_items on requests (id)
  where status in ('received', 'processing') and n_pending + n_leased + n_importing = 0;
