-- The key a robot gave its lease call (Idempotency-Key), so that the call repeated after its
-- answer was lost gets the same batch again while its lease is live
-- (docs/internals/0021-lost-lease-answers.md). A key names at most one batch of a robot; a
-- repeat after that batch's lease has lapsed takes the key off it and leases anew.
alter table batches add column lease_key text;
create unique index batches_lease_key on batches (robot_id, lease_key) where lease_key is not null;
