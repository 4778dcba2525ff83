-- A request made by `POST /v1/requests/{id}/retry` from another's failed items (docs/retrying-requests.md)
-- names that request here. A request is retried at most once: repeating the call finds the retry by
-- this index, and of two calls at the same moment, the second insert conflicts on it and inserts nothing.
alter table requests add column retry_of uuid;
create unique index requests_retry_of on requests (retry_of) where retry_of is not null;
