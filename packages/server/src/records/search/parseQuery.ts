import lucene from 'lucene';
import type { AST, Node, NodeRangedTerm, NodeTerm } from 'lucene';
import type { ContentClause, RecordFilter, TimeRange } from '@refinery/protocol';
import { Budget, checkDepth, checkPath, checkScalar, checkText, checkTime, checkTypeName, checkUuid, checkVisibility, fail, maxDepth, maxQueryLength, type RangeKey } from './clauses.ts';

/**
 * A Lucene-style query string (docs/queries.md) as the RecordFilter it means. The `lucene`
 * package parses the syntax; this gives the fields their meaning, checks every value and says
 * where (a character offset) the first mistake is.
 */
export function parseQuery(query: string, maxClauses: number): RecordFilter {
  if (query.length > maxQueryLength) fail(`the query is longer than ${maxQueryLength} characters`, { offset: maxQueryLength });
  checkParentheses(query);
  let ast: AST;
  try {
    ast = lucene.parse(query);
  } catch (err) {
    const e = err as { location?: { start: { offset: number } }; found?: string | null };
    if (!e.location) throw err;
    fail(e.found == null ? 'the query ends too soon: a value or a closing parenthesis is missing' : `the query cannot be read from here: unexpected ${JSON.stringify(e.found)}`, {
      offset: e.location.start.offset,
    });
  }
  return new Reader(new Budget(maxClauses)).expression(ast, 1);
}

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

const isNode = (x: AST | Node): x is Node => 'term' in x || 'term_min' in x;
const isRange = (x: Node): x is NodeRangedTerm => 'term_min' in x;

/** Where a part of the query starts. */
function startOf(x: AST | Node): number {
  if (isNode(x)) return x.fieldLocation?.start.offset ?? (isRange(x) ? 0 : x.termLocation.start.offset);
  return x.fieldLocation?.start.offset ?? startOf(x.left);
}

interface Group {
  field: string;
  offset: number;
}

const fieldsHelp = 'type, visibility, created_at, updated_at, identifier.<type>, content.<path>, enhancement.<type> or _exists_';

class Reader {
  constructor(private budget: Budget) {}

  /** An and/or chain, with AND binding tighter than OR; `depth` counts parentheses. */
  expression(ast: AST | Node, depth: number, group?: Group): RecordFilter {
    if (isNode(ast)) return this.leaf(ast, group);
    if (ast.field && ast.field !== '<implicit>') return this.fieldGroup(ast, depth);
    const operands: RecordFilter[] = [];
    const operators: string[] = [];
    let current: AST | Node = ast;
    let negate = 'start' in current && (current.start === 'NOT' || (current.start as string) === '!');
    for (;;) {
      const left: AST | Node = (current as AST).left;
      operands.push(this.maybeNot(this.operand(left, depth, group), negate));
      if (!('operator' in current)) break;
      const op = current.operator as string;
      const right: AST | Node = current.right;
      if (op === '<implicit>') fail('write AND or OR between clauses', { offset: startOf(right) });
      const [word, not] = op.split(' ');
      operators.push(word === '&&' ? 'AND' : word === '||' ? 'OR' : word);
      negate = not === 'NOT';
      if (isNode(right) || right.parenthesized || (right.field && right.field !== '<implicit>')) {
        operands.push(this.maybeNot(this.operand(right, depth, group), negate));
        break;
      }
      current = right;
      if ('start' in current && current.start) negate = !negate;
    }
    const ors: RecordFilter[] = [];
    let ands: RecordFilter[] = [operands[0]];
    operators.forEach((op, i) => {
      if (op === 'OR') {
        ors.push(ands.length === 1 ? ands[0] : { and: ands });
        ands = [];
      }
      ands.push(operands[i + 1]);
    });
    ors.push(ands.length === 1 ? ands[0] : { and: ands });
    return ors.length === 1 ? ors[0] : { or: ors };
  }

  private maybeNot(f: RecordFilter, negate: boolean): RecordFilter {
    return negate ? { not: f } : f;
  }

  private operand(x: AST | Node, depth: number, group?: Group): RecordFilter {
    if (isNode(x)) return this.leaf(x, group);
    if (x.parenthesized) {
      checkDepth(depth + 1, { offset: startOf(x) });
      return this.expression(x, depth + 1, group);
    }
    return this.expression(x, depth, group);
  }

  /** `field:( … )`: the values inside are the field's; for `enhancement.<type>`, what the enhancement must be. */
  private fieldGroup(ast: AST, depth: number): RecordFilter {
    const field = ast.field as string;
    const offset = ast.fieldLocation?.start.offset ?? startOf(ast);
    checkDepth(depth + 1, { offset });
    if (field.replace(/^[-+!]/, '').startsWith('enhancement.')) return this.enhancementGroup(ast, field, offset);
    const inner = { ...ast, field: undefined, parenthesized: false } as AST;
    const f = this.expression(inner, depth + 1, { field, offset });
    return field.startsWith('-') || field.startsWith('!') ? { not: f } : f;
  }

  private enhancementGroup(ast: AST, field: string, offset: number): RecordFilter {
    const negate = field.startsWith('-') || field.startsWith('!');
    const name = field.replace(/^[-+!]/, '');
    this.budget.spend({ offset });
    const clause: { type: string; robot_id?: string; newer_than?: string } = {
      type: checkTypeName('an enhancement type', name.slice('enhancement.'.length), { offset: offset + (name === field ? 0 : 1) + 'enhancement.'.length }),
    };
    const parts: Node[] = [];
    const collect = (x: AST | Node): void => {
      if (isNode(x)) return void parts.push(x);
      if ('start' in x && x.start) fail('inside enhancement.<type>:( … ) join robot_id and created_at with AND', { offset: startOf(x) });
      if ('operator' in x && x.operator !== 'AND' && (x.operator as string) !== '&&') fail('inside enhancement.<type>:( … ) join robot_id and created_at with AND', { offset: startOf(x.right) });
      collect(x.left);
      if ('operator' in x) collect(x.right);
    };
    collect({ ...ast, field: undefined, parenthesized: false } as AST);
    for (const part of parts) {
      const at = { offset: startOf(part) };
      if (isRange(part)) fail('inside enhancement.<type>:( … ) give robot_id:<id> or created_at:>time', at);
      if (part.field === 'robot_id') clause.robot_id = checkUuid(part.term, { offset: part.termLocation.start.offset });
      else if (part.field === 'created_at') {
        if (!part.term.startsWith('>') || part.term.startsWith('>=')) fail('an enhancement is chosen by created_at:>time (newer than)', { offset: part.termLocation.start.offset });
        clause.newer_than = checkTime(lucene.term.unescape(part.term.slice(1)), { offset: part.termLocation.start.offset + 1 });
      } else fail(`unknown field ${JSON.stringify(part.field)} inside enhancement.<type>:( … ); it takes robot_id and created_at`, at);
    }
    const f: RecordFilter = { has_enhancement: clause };
    return negate ? { not: f } : f;
  }

  private leaf(node: Node, group?: Group): RecordFilter {
    let field = node.field;
    let fieldAt = node.fieldLocation?.start.offset ?? 0;
    if (field === '<implicit>') {
      if (!group) fail(`name a field, as in content.title:"…"; fields are ${fieldsHelp}`, { offset: startOf(node) });
      ({ field, offset: fieldAt } = group);
    }
    const negate = (!isRange(node) && node.prefix === '-') || field.startsWith('-') || field.startsWith('!');
    if (/^[-+!]/.test(field)) {
      field = field.slice(1);
      fieldAt++;
    }
    if (group && node.field !== '<implicit>') fail(`inside ${group.field}:( … ) write values, not fields`, { offset: fieldAt });
    const termAt = isRange(node) ? (node.fieldLocation?.end.offset ?? fieldAt) + 1 : node.termLocation.start.offset;
    if (!isRange(node)) {
      if (node.regex) fail('regular expressions are not supported; use *text* for "contains"', { offset: termAt });
      if (node.boost !== null && node.boost !== undefined) fail('boosts (^) are not supported: a query matches or not, it does not rank', { offset: termAt });
      if ((node.similarity ?? null) !== null || ((node as { proximity?: number | null }).proximity ?? null) !== null) fail('fuzzy and proximity searches (~) are not supported', { offset: termAt });
    }
    this.budget.spend({ offset: fieldAt });
    const f = this.clause(field, fieldAt, node, termAt);
    return negate ? { not: f } : f;
  }

  private clause(field: string, fieldAt: number, node: Node, termAt: number): RecordFilter {
    const at = { offset: termAt };
    const value = isRange(node) ? null : node.quoted ? lucene.phrase.unescape(node.term) : lucene.term.unescape(node.term);
    const any = !isRange(node) && !node.quoted && node.term === '*';
    const single = (): string => {
      if (value === null || any) fail(`${field} takes a value, not a range or *`, at);
      return value;
    };
    if (field === 'type') return { type: checkTypeName('a record type', single(), at) };
    if (field === 'visibility') return { visibility: checkVisibility(single(), at) };
    if (field === 'created_at' || field === 'updated_at') {
      const range = this.timeRange(node, termAt);
      return field === 'created_at' ? { created_at: range } : { updated_at: range };
    }
    if (field === '_exists_') {
      if (value === null || any) fail('_exists_ takes a field name: _exists_:content.<path> or _exists_:identifier.<type>', at);
      if (value.startsWith('content.')) return { content: { path: checkPath(value.slice('content.'.length), { offset: termAt + 'content.'.length }), exists: true } };
      if (value.startsWith('identifier.')) return { identifier: { type: checkTypeName('an identifier type', value.slice('identifier.'.length), { offset: termAt + 'identifier.'.length }) } };
      if (value.startsWith('enhancement.')) return { has_enhancement: { type: checkTypeName('an enhancement type', value.slice('enhancement.'.length), { offset: termAt + 'enhancement.'.length }) } };
      fail('_exists_ takes content.<path>, identifier.<type> or enhancement.<type>', at);
    }
    if (field.startsWith('identifier.')) {
      const type = checkTypeName('an identifier type', field.slice('identifier.'.length), { offset: fieldAt + 'identifier.'.length });
      if (any) return { identifier: { type } };
      return { identifier: { type, value: checkText('an identifier value', single(), at) } };
    }
    if (field.startsWith('enhancement.')) {
      const type = checkTypeName('an enhancement type', field.slice('enhancement.'.length), { offset: fieldAt + 'enhancement.'.length });
      if (!any) fail(`write ${field}:* (has one), or ${field}:(robot_id:<id> AND created_at:>time)`, at);
      return { has_enhancement: { type } };
    }
    if (field.startsWith('content.')) {
      const path = checkPath(field.slice('content.'.length), { offset: fieldAt + 'content.'.length });
      return { content: this.content(path, node, value, termAt) };
    }
    fail(`unknown field ${JSON.stringify(field)}; fields are ${fieldsHelp}`, { offset: fieldAt });
  }

  private content(path: string, node: Node, value: string | null, termAt: number): ContentClause {
    if (isRange(node)) return { path, ...this.numberRange(node, termAt) };
    if (node.quoted) return { path, eq: checkScalar(value, { offset: termAt }) };
    const raw = node.term;
    if (raw === '*') return { path, exists: true };
    const compared = /^(>=|<=|>|<)(.*)$/s.exec(raw);
    if (compared) {
      const n = numberOf(lucene.term.unescape(compared[2]));
      if (n === null) fail(`a range on content takes numbers, not ${JSON.stringify(compared[2])}`, { offset: termAt + compared[1].length });
      return { path, [comparisonKeys[compared[1]]]: n };
    }
    // Wildcards are the unescaped * and ?; `*text*` is "contains".
    const wild = [...raw.matchAll(/(?<!\\)[*?]/g)].map((m) => m.index);
    if (wild.length > 0) {
      if (wild.length === 2 && wild[0] === 0 && wild[1] === raw.length - 1 && raw[0] === '*' && raw.endsWith('*') && raw.length > 2) {
        return { path, contains: checkText('the text to find', lucene.term.unescape(raw.slice(1, -1)), { offset: termAt + 1 }) };
      }
      fail('the one wildcard form is *text* (contains text, any case)', { offset: termAt + (wild[0] ?? 0) });
    }
    // An unquoted 12, true or null also matches the string "12", "true", "null": JSON has no schema to say which is meant.
    const text = value as string;
    const n = numberOf(text);
    if (n !== null) return { path, in: [n, text] };
    if (text === 'true' || text === 'false') return { path, in: [text === 'true', text] };
    if (text === 'null') return { path, in: [null, text] };
    return { path, eq: checkScalar(text, { offset: termAt }) };
  }

  private numberRange(node: NodeRangedTerm, termAt: number): Partial<Record<RangeKey, number>> {
    const range: Partial<Record<RangeKey, number>> = {};
    const lowIncluded = node.inclusive === 'both' || node.inclusive === 'left';
    const highIncluded = node.inclusive === 'both' || node.inclusive === 'right';
    if (node.term_min !== '*') {
      const n = numberOf(node.term_min);
      if (n === null) fail(`a range on content takes numbers, not ${JSON.stringify(node.term_min)}`, { offset: termAt });
      range[lowIncluded ? 'gte' : 'gt'] = n;
    }
    if (node.term_max !== '*') {
      const n = numberOf(node.term_max);
      if (n === null) fail(`a range on content takes numbers, not ${JSON.stringify(node.term_max)}`, { offset: termAt });
      range[highIncluded ? 'lte' : 'lt'] = n;
    }
    if (Object.keys(range).length === 0) fail('a range needs at least one bound', { offset: termAt });
    return range;
  }

  private timeRange(node: Node, termAt: number): TimeRange {
    const range: TimeRange = {};
    if (isRange(node)) {
      const lowIncluded = node.inclusive === 'both' || node.inclusive === 'left';
      const highIncluded = node.inclusive === 'both' || node.inclusive === 'right';
      if (node.term_min !== '*') range[lowIncluded ? 'gte' : 'gt'] = checkTime(lucene.term.unescape(node.term_min), { offset: termAt });
      if (node.term_max !== '*') range[highIncluded ? 'lte' : 'lt'] = checkTime(lucene.term.unescape(node.term_max), { offset: termAt });
      if (Object.keys(range).length === 0) fail('a range needs at least one bound', { offset: termAt });
      return range;
    }
    const compared = /^(>=|<=|>|<)(.*)$/s.exec(node.quoted ? '' : node.term);
    if (!compared) fail('a time takes a range: >=2024-01-01, <2024-01-01T12:00:00Z or [2020-01-01 TO 2021-01-01}', { offset: termAt });
    range[comparisonKeys[compared[1]]] = checkTime(lucene.term.unescape(compared[2]), { offset: termAt + compared[1].length });
    return range;
  }
}

const comparisonKeys: Record<string, RangeKey> = { '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };

function numberOf(text: string): number | null {
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}
