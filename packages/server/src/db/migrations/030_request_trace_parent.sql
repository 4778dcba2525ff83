-- The `traceparent` of the span that created the request, written only while traces are exported:
-- a lease of its items, in any process, is a child of it, so the request's trace shows its work
-- (docs/internals/0026-request-traces.md).
alter table requests add column trace_parent text;
