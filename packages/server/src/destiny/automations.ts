import type { AutomationTrigger, RecordFilter } from '@refinery/protocol';
import { errors } from '../errors.ts';

/**
 * A DESTINY robot automation's percolator query (an Elasticsearch query over `changeset`, what an
 * import just added, and `reference`, the whole reference) as a trigger and a filter, for the forms
 * DESTINY's documentation and robots register (docs/destiny.md): `bool` with `must`/`filter` and
 * `must_not` lists, `nested`, and `term`/`terms` on
 * - `changeset.enhancements.content.enhancement_type`: fires on enhancements of that type;
 * - `changeset.identifiers.identifier_type`: fires on new references with such an identifier;
 * - `reference.enhancements.content.enhancement_type`: the reference has (or, under `must_not`,
 *   lacks) an enhancement of that type;
 * - `reference.identifiers.identifier_type`: the reference has (or lacks) such an identifier.
 * Anything else is refused with 422 `unsupported_query`, naming where.
 */
export function fromPercolator(query: unknown): { trigger: AutomationTrigger; filter: RecordFilter | null } {
  const trigger: AutomationTrigger = {};
  const clauses: RecordFilter[] = [];
  const refuse = (at: string, what: string) => errors.of('unsupported_query', `query${at}: ${what}; Refinery maps the percolator forms docs/destiny.md lists`);

  const walk = (q: unknown, at: string, negated: boolean): void => {
    if (typeof q !== 'object' || q === null || Array.isArray(q) || Object.keys(q).length !== 1) throw refuse(at, 'expected an object of one key (bool, nested, term or terms)');
    const [kind, body] = Object.entries(q)[0] as [string, unknown];
    const inner = `${at}.${kind}`;
    if (kind === 'bool') {
      if (typeof body !== 'object' || body === null) throw refuse(inner, 'expected an object');
      for (const [occur, list] of Object.entries(body)) {
        if (!['must', 'filter', 'must_not'].includes(occur)) throw refuse(`${inner}.${occur}`, 'only must, filter and must_not are mapped');
        for (const [i, clause] of (Array.isArray(list) ? list : [list]).entries()) walk(clause, `${inner}.${occur}[${i}]`, negated !== (occur === 'must_not'));
      }
      return;
    }
    if (kind === 'nested') {
      const nested = body as { query?: unknown } | null;
      if (!nested || typeof nested !== 'object' || nested.query === undefined) throw refuse(inner, 'expected {path, query}');
      return walk(nested.query, `${inner}.query`, negated);
    }
    if (kind !== 'term' && kind !== 'terms') throw refuse(inner, `"${kind}" is not mapped`);
    const entries = typeof body === 'object' && body !== null ? Object.entries(body) : [];
    if (entries.length !== 1) throw refuse(inner, 'expected one field');
    const [field, raw] = entries[0];
    const value = kind === 'term' && typeof raw === 'object' && raw !== null && 'value' in raw ? (raw as { value: unknown }).value : raw;
    const values = kind === 'terms' ? value : [value];
    if (!Array.isArray(values) || values.length === 0 || !values.every((v) => typeof v === 'string' && v !== '')) throw refuse(`${inner}.${field}`, 'expected a string (term) or strings (terms)');
    const one = (make: (v: string) => RecordFilter): RecordFilter => (values.length === 1 ? make(values[0]) : { or: values.map(make) });
    const changeset = field.startsWith('changeset.');
    if (changeset && negated) throw refuse(`${inner}.${field}`, 'a changeset clause under must_not is not mapped');
    switch (field) {
      case 'changeset.enhancements.content.enhancement_type':
      case 'changeset.enhancements.enhancement_type':
        if (values.length !== 1 || trigger.enhancements) throw refuse(`${inner}.${field}`, 'one enhancement type fires an automation');
        trigger.enhancements = { type: values[0] };
        return;
      case 'changeset.identifiers.identifier_type':
        trigger.records = { type: 'reference' };
        clauses.push(one((type) => ({ identifier: { type } })));
        return;
      case 'reference.enhancements.content.enhancement_type':
      case 'reference.enhancements.enhancement_type': {
        const has = one((type) => ({ has_enhancement: { type } }));
        clauses.push(negated ? { not: has } : has);
        return;
      }
      case 'reference.identifiers.identifier_type': {
        const has = one((type) => ({ identifier: { type } }));
        clauses.push(negated ? { not: has } : has);
        return;
      }
      default:
        throw refuse(`${inner}.${field}`, `the field "${field}" is not mapped`);
    }
  };
  walk(query, '', false);
  if (!trigger.records && !trigger.enhancements) throw refuse('', 'it names no changeset: say what fires it (changeset.enhancements or changeset.identifiers)');
  // Both fire it, but an identifier clause on the changeset holds only for new references.
  if (trigger.records && trigger.enhancements) throw refuse('', 'changeset.identifiers and changeset.enhancements together are not mapped');
  return { trigger, filter: clauses.length === 0 ? null : clauses.length === 1 ? clauses[0] : { and: clauses } };
}
