import type { ContentClause, RecordFilter, TimeRange } from '@refinery/protocol';
import {
  Budget,
  checkDepth,
  checkPath,
  checkScalar,
  checkText,
  checkTime,
  checkTypeName,
  checkUuid,
  checkVisibility,
  fail,
  maxDepth,
  maxQueryLength,
  type RangeKey,
} from './clauses.ts';
import { queryParser, type Expr, type SyntaxError, type Value } from './grammar.ts';

/**
 * A Lucene-style query string (docs/queries.md) as the RecordFilter it means. The grammar
 * (grammar.ts) reads the syntax; this gives the fields their meaning, checks every value, and
 * says where (a character offset) the first mistake is.
 */
export function parseQuery(query: string, maxClauses: number, fields: QueryFields = 'refinery'): RecordFilter {
  if (query.length > maxQueryLength) fail(`the query is longer than ${maxQueryLength} characters`, { offset: maxQueryLength });
  checkParentheses(query);
  let expr: Expr;
  try {
    expr = queryParser.parse(query);
  } catch (err) {
    const e = err as SyntaxError;
    if (!e.location) throw err;
    const offset = e.location.start.offset;
    const expectsOperator = e.expected?.some((x) => x.type === 'literal' && x.text === 'AND');
    fail(
      e.found == null
        ? 'the query ends too soon: a value or a closing parenthesis is missing'
        : expectsOperator && /[\w"(\-+!]/.test(e.found)
          ? 'write AND or OR between clauses'
          : `the query cannot be read from here: unexpected ${JSON.stringify(e.found)}`,
      { offset },
    );
  }
  return new Reader(new Budget(maxClauses), fields).read(expr, 1);
}

/**
 * How fields are named: Refinery's way (docs/queries.md), or DESTINY's, where a reference's
 * fields go unprefixed (`title:"…"`): any field that is not one of Refinery's is then a content
 * path (docs/destiny.md).
 */
export type QueryFields = 'refinery' | 'destiny';

const isRefineryField = (field: string) =>
  ['type', 'visibility', 'created_at', 'updated_at', '_exists_'].includes(field) || /^(identifier|enhancement|content)\./.test(field);

/** Refuses nesting past maxDepth before the parser (which recurses per parenthesis) sees it. */
function checkParentheses(query: string): void {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(' && ++depth > maxDepth) checkDepth(depth, { offset: i });
    else if (!quoted && c === ')') depth--;
  }
}

const fieldsHelp = 'type, visibility, created_at, updated_at, identifier.<type>, content.<path>, enhancement.<type> or _exists_';
const unescape = (text: string) => text.replace(/\\(.)/gs, '$1');

interface Group {
  field: string;
  at: number;
}

class Reader {
  constructor(
    private budget: Budget,
    private fields: QueryFields,
  ) {}

  /** The content path a field (or an `_exists_` name) at `at` names, with where the path starts; null if it is not content. */
  private contentPath(field: string, at: number): { path: string; at: number } | null {
    if (field.startsWith('content.')) return { path: field.slice('content.'.length), at: at + 'content.'.length };
    if (this.fields === 'destiny' && !isRefineryField(field)) return { path: field, at };
    return null;
  }

  read(e: Expr, depth: number, group?: Group): RecordFilter {
    switch (e.kind) {
      case 'or':
      case 'and': {
        const parts = e.parts.map((p) => this.read(p, depth, group));
        return e.kind === 'or' ? { or: parts } : { and: parts };
      }
      case 'not':
        checkDepth(depth + 1, { offset: e.at });
        return { not: this.read(e.of, depth + 1, group) };
      case 'group':
        checkDepth(depth + 1, { offset: e.at });
        return this.read(e.of, depth + 1, group);
      case 'bare':
        if (!group) fail(`name a field, as in content.title:"…"; fields are ${fieldsHelp}`, { offset: e.at });
        return this.leaf(group.field, group.at, e.value);
      case 'field':
        if (group) fail(`inside ${group.field}:( … ) write values, not fields`, { offset: e.at });
        if (e.value.kind === 'group') {
          checkDepth(depth + 1, { offset: e.value.at });
          if (e.field.startsWith('enhancement.')) return this.enhancementGroup(e.field, e.at, e.value.of);
          return this.read(e.value.of, depth + 1, { field: e.field, at: e.at });
        }
        return this.leaf(e.field, e.at, e.value);
    }
  }

  /** `enhancement.<type>:(robot_id:… AND created_at:>…)`: one enhancement that is all of these. */
  private enhancementGroup(field: string, at: number, inner: Expr): RecordFilter {
    this.budget.spend({ offset: at });
    const clause: { type: string; robot_id?: string; newer_than?: string } = {
      type: checkTypeName('an enhancement type', field.slice('enhancement.'.length), { offset: at + 'enhancement.'.length }),
    };
    const parts = inner.kind === 'and' ? inner.parts : [inner];
    for (const part of parts) {
      if (part.kind !== 'field') fail('inside enhancement.<type>:( … ) give robot_id:<id> and/or created_at:>time, joined by AND', { offset: part.at });
      const v = part.value;
      if (part.field === 'robot_id' && v.kind === 'term') clause.robot_id = checkUuid(unescape(v.text), { offset: v.at });
      else if (part.field === 'created_at' && v.kind === 'compare' && v.op === '>') clause.newer_than = checkTime(v.quoted ? v.text : unescape(v.text), { offset: v.at + 1 });
      else if (part.field === 'created_at') fail('an enhancement is chosen by created_at:>time (newer than)', { offset: v.at });
      else if (part.field === 'robot_id') fail('robot_id takes a robot id', { offset: v.at });
      else fail(`unknown field ${JSON.stringify(part.field)} inside enhancement.<type>:( … ); it takes robot_id and created_at`, { offset: part.at });
    }
    return { has_enhancement: clause };
  }

  private leaf(field: string, at: number, v: Value): RecordFilter {
    if (v.kind === 'group') fail(`${field}:( … ) cannot be nested`, { offset: v.at });
    this.budget.spend({ offset: at });
    const text = v.kind === 'term' || v.kind === 'compare' ? (v.quoted ? v.text : unescape(v.text)) : null;
    const any = v.kind === 'term' && !v.quoted && v.text === '*';
    if (v.kind === 'term' && !v.quoted && /^\/.*\/$/s.test(v.text)) fail('regular expressions are not supported; use *text* for "contains"', { offset: v.at });
    const single = (): string => {
      if (v.kind !== 'term' || any) fail(`${field} takes a value, not a range, a comparison or *`, { offset: v.at });
      return text as string;
    };
    if (field === 'type') return { type: checkTypeName('a record type', single(), { offset: v.at }) };
    if (field === 'visibility') return { visibility: checkVisibility(single(), { offset: v.at }) };
    if (field === 'created_at' || field === 'updated_at') {
      const range = this.timeRange(v);
      return field === 'created_at' ? { created_at: range } : { updated_at: range };
    }
    if (field === '_exists_') {
      const name = single();
      const rest = (prefix: string) => ({ offset: v.at + prefix.length });
      const named = this.contentPath(name, v.at);
      if (named) return { content: { path: checkPath(named.path, { offset: named.at }), exists: true } };
      if (name.startsWith('identifier.')) return { identifier: { type: checkTypeName('an identifier type', name.slice('identifier.'.length), rest('identifier.')) } };
      if (name.startsWith('enhancement.')) return { has_enhancement: { type: checkTypeName('an enhancement type', name.slice('enhancement.'.length), rest('enhancement.')) } };
      fail('_exists_ takes content.<path>, identifier.<type> or enhancement.<type>', { offset: v.at });
    }
    if (field.startsWith('identifier.')) {
      const type = checkTypeName('an identifier type', field.slice('identifier.'.length), { offset: at + 'identifier.'.length });
      if (any) return { identifier: { type } };
      return { identifier: { type, value: checkText('an identifier value', single(), { offset: v.at }) } };
    }
    if (field.startsWith('enhancement.')) {
      const type = checkTypeName('an enhancement type', field.slice('enhancement.'.length), { offset: at + 'enhancement.'.length });
      if (!any) fail(`write ${field}:* (has one), or ${field}:(robot_id:<id> AND created_at:>time)`, { offset: v.at });
      return { has_enhancement: { type } };
    }
    const named = this.contentPath(field, at);
    if (named) return { content: this.content(checkPath(named.path, { offset: named.at }), v) };
    fail(`unknown field ${JSON.stringify(field)}; fields are ${fieldsHelp}`, { offset: at });
  }

  private content(path: string, v: Exclude<Value, { kind: 'group' }>): ContentClause {
    if (v.kind === 'range') {
      const range: Partial<Record<RangeKey, number>> = {};
      for (const [bound, included, open, closed] of [
        [v.low, v.lowIncluded, 'gt', 'gte'],
        [v.high, v.highIncluded, 'lt', 'lte'],
      ] as const) {
        if (bound === null) continue;
        const n = numberOf(bound);
        if (n === null) fail(`a range on content takes numbers, not ${JSON.stringify(bound)}`, { offset: v.at });
        range[included ? closed : open] = n;
      }
      if (Object.keys(range).length === 0) fail('a range needs at least one bound', { offset: v.at });
      return { path, ...range };
    }
    if (v.kind === 'compare') {
      const n = v.quoted ? null : numberOf(unescape(v.text));
      if (n === null) fail(`a range on content takes numbers, not ${JSON.stringify(v.text)}`, { offset: v.at + v.op.length });
      return { path, [comparisonKeys[v.op]]: n };
    }
    if (v.quoted) return { path, eq: checkScalar(v.text, { offset: v.at }) };
    const raw = v.text;
    if (raw === '*') return { path, exists: true };
    // Wildcards are the unescaped * and ?; the one form taken is *text*, "contains".
    const wild = [...raw.matchAll(/(?<!\\)[*?]/g)].map((m) => m.index);
    if (wild.length > 0) {
      if (wild.length === 2 && wild[0] === 0 && wild[1] === raw.length - 1 && raw.endsWith('*') && raw[0] === '*' && raw.length > 2) {
        return { path, contains: checkText('the text to find', unescape(raw.slice(1, -1)), { offset: v.at + 1 }) };
      }
      fail('the one wildcard form is *text* (contains text, in any case)', { offset: v.at + wild[0] });
    }
    // An unquoted 12, true or null also matches the string "12", "true" or "null": content has no schema to say which is meant.
    const text = unescape(raw);
    const n = numberOf(text);
    if (n !== null) return { path, in: [n, text] };
    if (text === 'true' || text === 'false') return { path, in: [text === 'true', text] };
    if (text === 'null') return { path, in: [null, text] };
    return { path, eq: checkScalar(text, { offset: v.at }) };
  }

  private timeRange(v: Exclude<Value, { kind: 'group' }>): TimeRange {
    const range: TimeRange = {};
    if (v.kind === 'range') {
      if (v.low !== null) range[v.lowIncluded ? 'gte' : 'gt'] = checkTime(v.low, { offset: v.at });
      if (v.high !== null) range[v.highIncluded ? 'lte' : 'lt'] = checkTime(v.high, { offset: v.at });
      if (Object.keys(range).length === 0) fail('a range needs at least one bound', { offset: v.at });
      return range;
    }
    if (v.kind !== 'compare') fail('a time takes a comparison or a range: >=2024-01-01, <2024-01-01T12:00:00Z or [2020-01-01 TO 2021-01-01}', { offset: v.at });
    range[comparisonKeys[v.op]] = checkTime(v.quoted ? v.text : unescape(v.text), { offset: v.at + v.op.length });
    return range;
  }
}

const comparisonKeys: Record<string, RangeKey> = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };

function numberOf(text: string): number | null {
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}
