-- Requests and batches point at their robot, and events at their request, by foreign key again
-- (dropped by 012). Each is checked once per request, batch or event, never per item: the cost
-- end to end is under the 5 % issue 28 allows (docs/internals/0022-item-store-and-keys.md).
alter table requests add constraint requests_robot_id_fkey foreign key (robot_id) references robots (id);
alter table batches add constraint batches_robot_id_fkey foreign key (robot_id) references robots (id);
alter table events add constraint events_request_id_fkey foreign key (request_id) references requests (id) on delete cascade;
