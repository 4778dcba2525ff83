/**
 * SQL for the identifiers of record `r` as DESTINY's `ExternalIdentifier`s (docs/destiny.md): a
 * Refinery identifier whose type is one of DESTINY's and whose value has that type's form becomes
 * that identifier; any other becomes `other`, named by its type. identifiers.ts reads them back.
 * The patterns are destiny.identifierPatterns; a `pm_id` is a positive integer (of at most 15
 * digits, which JSON numbers keep exactly).
 */
const identifiersSql = `(select coalesce(jsonb_agg(case
      when x.i->>'type' = 'pm_id' and x.i->>'value' ~ '^[1-9][0-9]{0,14}$'
        then jsonb_build_object('identifier_type', 'pm_id', 'identifier', (x.i->>'value')::bigint)
      when (x.i->>'type' = 'doi' and x.i->>'value' ~ '^10\\.\\d{4,9}/\\S+$')
        or (x.i->>'type' = 'eric' and x.i->>'value' ~ 'E[D|J][0-9]+$')
        or (x.i->>'type' = 'pro_quest' and x.i->>'value' ~ '^[0-9]+$')
        or (x.i->>'type' = 'open_alex' and x.i->>'value' ~ '^W\\d+$')
        then jsonb_build_object('identifier_type', x.i->>'type', 'identifier', x.i->>'value')
      else jsonb_build_object('identifier_type', 'other', 'identifier', x.i->>'value', 'other_identifier_name', x.i->>'type')
    end order by x.n), '[]')::text
    from jsonb_array_elements(r.identifiers) with ordinality as x(i, n))`;

/**
 * SQL for one line of a DESTINY robot's reference file: record `r` as a DESTINY `Reference`
 * (`visibility`, `id`, `identifiers`, `enhancements`), with the enhancements of the types in the
 * text[] parameter `needsParam` (none when null) that came from DESTINY robots, whose content
 * was checked against DESTINY's models when imported: every line parses in destiny_sdk's models.
 * Put together as text from the stored JSON, as the items file's lines are (itemLineSql).
 */
export function referenceLineSql(needsParam: string | null): string {
  const enhancements =
    needsParam === null
      ? `'[]'`
      : `coalesce((
      select jsonb_agg(jsonb_build_object('id', e.id, 'reference_id', e.record_id, 'source', e.source, 'visibility', e.visibility,
        'robot_version', e.robot_version, 'derived_from', e.derived_from, 'content', e.content, 'created_at', e.created_at) order by e.created_at)
      from enhancements e
      where e.record_id = r.id and e.source is not null and e.type = any(${needsParam})
    )::text, '[]')`;
  return `'{"visibility":"' || r.visibility || '","id":"' || r.id::text || '","identifiers":' || ${identifiersSql}
    || ',"enhancements":' || ${enhancements} || '}'`;
}
