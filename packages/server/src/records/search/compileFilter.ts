import type { ContentClause, RecordFilter, TimeRange } from '@refinery/protocol';
import { rangeKeys } from './clauses.ts';

/**
 * A checked RecordFilter as a SQL condition on `records r`. Every value is a parameter: content
 * clauses become one `jsonpath` parameter each (`r.content @? $n`, which the GIN index on content
 * serves), built from the checked path steps and JSON-encoded values; identifiers one `jsonb`
 * parameter (`r.identifiers @> $n`, served by the GIN index on identifiers). `firstParam` is the
 * number of the first placeholder to use.
 */
export function compileFilter(filter: RecordFilter, firstParam = 1): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const param = (value: unknown, type: string) => {
    params.push(value);
    return `$${firstParam + params.length - 1}::${type}`;
  };
  const ops: Record<(typeof rangeKeys)[number], string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };
  const timeRange = (column: string, range: TimeRange) =>
    rangeKeys
      .filter((k) => range[k] !== undefined)
      .map((k) => `${column} ${ops[k]} ${param(range[k], 'timestamptz')}`)
      .join(' and ');

  const walk = (f: RecordFilter): string => {
    if ('and' in f) return `(${f.and.map(walk).join(' and ')})`;
    if ('or' in f) return `(${f.or.map(walk).join(' or ')})`;
    if ('not' in f) return `not ${walk(f.not)}`;
    if ('type' in f) return `r.type = ${param(f.type, 'text')}`;
    if ('visibility' in f) return `r.visibility = ${param(f.visibility, 'text')}`;
    if ('created_at' in f) return `(${timeRange('r.created_at', f.created_at)})`;
    if ('updated_at' in f) return `(${timeRange('r.updated_at', f.updated_at)})`;
    if ('identifier' in f) return `r.identifiers @> ${param(JSON.stringify([f.identifier]), 'jsonb')}`;
    if ('content' in f) return `r.content @? ${param(contentPath(f.content), 'jsonpath')}`;
    const e = f.has_enhancement;
    const conditions = [`e.record_id = r.id`, `e.type = ${param(e.type, 'text')}`];
    if (e.robot_id) conditions.push(`e.robot_id = ${param(e.robot_id, 'uuid')}`);
    if (e.newer_than) conditions.push(`e.created_at > ${param(e.newer_than, 'timestamptz')}`);
    return `exists (select 1 from enhancements e where ${conditions.join(' and ')})`;
  };
  return { sql: walk(filter), params };
}

/**
 * A content clause as a lax-mode jsonpath: arrays on the way are searched element by element, a
 * missing key matches nothing. Keys are quoted, positions are numbers (both checked by checkPath),
 * values JSON-encoded: the JSON forms of strings, numbers, booleans and null are jsonpath literals.
 */
export function contentPath(c: ContentClause): string {
  const steps = c.path.split('.').map((step) => (/^\d+$/.test(step) ? `[${Number(step)}]` : `.${JSON.stringify(step)}`));
  const at = `$${steps.join('')}`;
  const literal = (v: unknown) => JSON.stringify(v);
  if (c.exists !== undefined) return c.exists ? at : `$ ? (!(exists(@${steps.join('')})))`;
  if (c.contains !== undefined) return `${at} ? (@ like_regex ${literal(c.contains)} flag "iq")`;
  if (c.in !== undefined) return `${at} ? (${c.in.map((v) => `@ == ${literal(v)}`).join(' || ')})`;
  if (c.eq !== undefined) return `${at} ? (@ == ${literal(c.eq)})`;
  const ops = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
  return `${at} ? (${rangeKeys
    .filter((k) => c[k] !== undefined)
    .map((k) => `@ ${ops[k]} ${literal(c[k])}`)
    .join(' && ')})`;
}
