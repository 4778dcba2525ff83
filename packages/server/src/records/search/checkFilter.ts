import type { ContentClause, RecordFilter, TimeRange } from '@refinery/protocol';
import {
  Budget,
  checkDepth,
  checkNumber,
  checkPath,
  checkScalar,
  checkText,
  checkTime,
  checkTypeName,
  checkUuid,
  checkVisibility,
  fail,
  rangeKeys,
} from './clauses.ts';

const kinds = ['and', 'or', 'not', 'type', 'identifier', 'content', 'has_enhancement', 'visibility', 'created_at', 'updated_at'];
const contentTests = ['eq', 'in', 'contains', 'exists'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** A filter as sent in JSON, checked whole: the first mistake is refused with its JSON pointer. */
export function checkFilter(value: unknown, maxClauses: number, pointer = '/filter'): RecordFilter {
  return node(value, pointer, 1, new Budget(maxClauses));
}

function keysOf(value: unknown, pointer: string, allowed: readonly string[], what: string): Record<string, unknown> {
  if (!isObject(value)) fail(`${what} must be an object`, { pointer });
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`unknown field ${JSON.stringify(key)} in ${what}; it takes ${allowed.join(', ')}`, { pointer: `${pointer}/${escape(key)}` });
  }
  return value;
}

function node(value: unknown, pointer: string, depth: number, budget: Budget): RecordFilter {
  checkDepth(depth, { pointer });
  if (!isObject(value)) fail('a filter is an object of one key, such as {"type": "reference"}', { pointer });
  const keys = Object.keys(value);
  for (const key of keys) if (!kinds.includes(key)) fail(`unknown field ${JSON.stringify(key)}; a filter is one of ${kinds.join(', ')}`, { pointer: `${pointer}/${escape(key)}` });
  if (keys.length !== 1) fail(`a filter has exactly one key; combine several with "and"`, { pointer });
  const kind = keys[0];
  const at = `${pointer}/${kind}`;
  const v = value[kind];
  switch (kind) {
    case 'and':
    case 'or': {
      if (!Array.isArray(v) || v.length === 0) fail(`"${kind}" takes a non-empty array of filters`, { pointer: at });
      const parts = v.map((f, i) => node(f, `${at}/${i}`, depth + 1, budget));
      return kind === 'and' ? { and: parts } : { or: parts };
    }
    case 'not':
      return { not: node(v, at, depth + 1, budget) };
    case 'type':
      budget.spend({ pointer: at });
      return { type: checkTypeName('a record type', v, { pointer: at }) };
    case 'visibility':
      budget.spend({ pointer: at });
      return { visibility: checkVisibility(v, { pointer: at }) };
    case 'identifier': {
      budget.spend({ pointer: at });
      const o = keysOf(v, at, ['type', 'value'], '"identifier"');
      const type = checkTypeName('an identifier type', o.type, { pointer: `${at}/type` });
      if (o.value === undefined) return { identifier: { type } };
      return { identifier: { type, value: checkText('an identifier value', o.value, { pointer: `${at}/value` }) } };
    }
    case 'has_enhancement': {
      budget.spend({ pointer: at });
      const o = keysOf(v, at, ['type', 'robot_id', 'newer_than'], '"has_enhancement"');
      const clause: { type: string; robot_id?: string; newer_than?: string } = { type: checkTypeName('an enhancement type', o.type, { pointer: `${at}/type` }) };
      if (o.robot_id !== undefined) clause.robot_id = checkUuid(o.robot_id, { pointer: `${at}/robot_id` });
      if (o.newer_than !== undefined) clause.newer_than = checkTime(o.newer_than, { pointer: `${at}/newer_than` });
      return { has_enhancement: clause };
    }
    case 'created_at':
    case 'updated_at': {
      budget.spend({ pointer: at });
      const o = keysOf(v, at, rangeKeys, `"${kind}"`);
      if (Object.keys(o).length === 0) fail(`"${kind}" takes at least one of ${rangeKeys.join(', ')}`, { pointer: at });
      const range: TimeRange = {};
      for (const key of rangeKeys) if (o[key] !== undefined) range[key] = checkTime(o[key], { pointer: `${at}/${key}` });
      return kind === 'created_at' ? { created_at: range } : { updated_at: range };
    }
    case 'content':
      return { content: contentClause(v, at, budget) };
  }
  throw new Error(`unreachable: ${kind}`);
}

function contentClause(value: unknown, at: string, budget: Budget): ContentClause {
  budget.spend({ pointer: at });
  const o = keysOf(value, at, ['path', ...contentTests, ...rangeKeys], '"content"');
  const path = checkPath(o.path, { pointer: `${at}/path` });
  const tests = Object.keys(o).filter((k) => k !== 'path');
  const ranged = tests.filter((k) => (rangeKeys as readonly string[]).includes(k));
  if (tests.length === 0 || (ranged.length === 0 && tests.length > 1) || (ranged.length > 0 && ranged.length !== tests.length)) {
    fail(`"content" takes a path and exactly one of eq, in, contains, exists, or a range (${rangeKeys.join(', ')})`, { pointer: at });
  }
  const clause: ContentClause = { path };
  if (ranged.length > 0) {
    for (const key of rangeKeys) if (o[key] !== undefined) clause[key] = checkNumber(o[key], { pointer: `${at}/${key}` });
    return clause;
  }
  const test = tests[0];
  const p = `${at}/${test}`;
  switch (test) {
    case 'eq':
      clause.eq = checkScalar(o.eq, { pointer: p });
      break;
    case 'in':
      if (!Array.isArray(o.in) || o.in.length === 0) fail('"in" takes a non-empty array of values', { pointer: p });
      budget.spend({ pointer: p }, o.in.length - 1);
      clause.in = o.in.map((x, i) => checkScalar(x, { pointer: `${p}/${i}` }));
      break;
    case 'contains':
      clause.contains = checkText('"contains"', o.contains, { pointer: p });
      break;
    case 'exists':
      if (typeof o.exists !== 'boolean') fail('"exists" takes true or false', { pointer: p });
      clause.exists = o.exists;
      break;
  }
  return clause;
}
