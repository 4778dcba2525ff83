-- Requests and batches keep their robot's id, and events their request's, without a foreign key,
-- as items keep their request's (005). Robots and requests are never deleted, and each of these
-- rows is inserted by a statement that has just read its parent: a request by the create, which
-- finds its robot (and inserts nothing for an unknown one), a batch by the lease or the create,
-- for the robot whose signature or request it holds, an event in the transaction that writes its
-- request. The checks only locked the parent row (KEY SHARE: a tuple header and WAL record, and a
-- multixact when several leases of one robot commit together), in the create a long poll waits
-- on: docs/internals/0004-ids-without-foreign-keys.md.
alter table requests drop constraint requests_robot_id_fkey;
alter table batches drop constraint batches_robot_id_fkey;
alter table events drop constraint events_request_id_fkey;
