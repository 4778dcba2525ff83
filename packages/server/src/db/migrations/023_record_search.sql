-- Record queries (docs/queries.md): content clauses are jsonpath tests (`content @? …`) and
-- identifier clauses containment (`identifiers @> …`); jsonb_path_ops indexes serve both, and are
-- smaller than the default jsonb_ops.
create index records_content on records using gin (content jsonb_path_ops);
create index records_identifiers on records using gin (identifiers jsonb_path_ops);
