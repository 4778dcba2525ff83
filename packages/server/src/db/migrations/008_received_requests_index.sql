-- Requests not yet leased from, for the sweeper's look for those whose every item was final at
-- creation (all denied or expired) but which were not finished: a small request is created in
-- one statement of its own, and its process may die before the next one finishes it.
create index requests_received on requests (id) where status = 'received';
