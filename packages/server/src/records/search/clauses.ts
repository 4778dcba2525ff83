import { type ContentClause, type RecordFilter, uuidPattern, visibilities } from '@refinery/protocol';
import { errors } from '../../errors.ts';

/** Where a mistake is: a character offset into a query string, or a JSON pointer into the body. */
export type At = { offset: number } | { pointer: string };

export function fail(message: string, at: At): never {
  throw errors.invalidQuery(message, at);
}

/** Deeper than this, and/or/not nesting is refused. */
export const maxDepth = 16;
/** A query string longer than this is refused before it is parsed. */
export const maxQueryLength = 20_000;

/** Counts the clauses of one query (each `in` value is one) against REFINERY_QUERY_MAX_CLAUSES. */
export class Budget {
  #used = 0;
  constructor(readonly max: number) {}
  spend(at: At, n = 1): void {
    this.#used += n;
    if (this.#used > this.max) fail(`the query has more than ${this.max} clauses (REFINERY_QUERY_MAX_CLAUSES)`, at);
  }
}

export function checkDepth(depth: number, at: At): void {
  if (depth > maxDepth) fail(`the query nests and/or/not deeper than ${maxDepth} levels`, at);
}

/** Record, identifier and enhancement types: as records and robots spell them. */
const typeName = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkTypeName(what: string, value: unknown, at: At): string {
  if (typeof value !== 'string' || !typeName.test(value)) fail(`${what} must be 1 to 64 letters, digits, '_', '.' or '-', not ${JSON.stringify(value)}`, at);
  return value;
}

/** Content paths are keys and array positions: each step is turned into jsonpath from this spelling only. */
const pathStep = /^[A-Za-z0-9_-]{1,128}$/;
const maxPathSteps = 32;

export function checkPath(value: unknown, at: At): string {
  if (typeof value !== 'string' || value === '') fail('a content path must be keys and array positions separated by dots, such as `authors.0.name`', at);
  const steps = value.split('.');
  if (steps.length > maxPathSteps) fail(`a content path has at most ${maxPathSteps} steps`, at);
  for (const step of steps) if (!pathStep.test(step)) fail(`content path step ${JSON.stringify(step)} is not 1 to 128 letters, digits, '_' or '-'`, at);
  return value;
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/i;

/** A time: RFC 3339, or a date alone (midnight UTC); each field in its range, so that PostgreSQL reads it as meant. */
export function checkTime(value: unknown, at: At): string {
  const m = typeof value === 'string' ? rfc3339.exec(value) : null;
  const [year, month, day, hour = 0, minute = 0, second = 0, offsetHour = 0, offsetMinute = 0] = (m?.slice(1) ?? []).map((x) => (x === undefined ? undefined : Number(x)));
  const valid =
    m !== null &&
    year! >= 1 &&
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= new Date(Date.UTC(year!, month!, 0)).getUTCDate() &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 14 &&
    offsetMinute <= 59;
  if (!valid) fail(`a time must be RFC 3339 (2024-01-31T12:00:00Z) or a date (2024-01-31), not ${JSON.stringify(value)}`, at);
  return value as string;
}

export function checkNumber(value: unknown, at: At): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`a range on content takes numbers, not ${JSON.stringify(value)}`, at);
  return value;
}

export function checkUuid(value: unknown, at: At): string {
  if (typeof value !== 'string' || !uuidPattern.test(value)) fail(`a robot id must be a UUID, not ${JSON.stringify(value)}`, at);
  return value.toLowerCase();
}

export function checkVisibility(value: unknown, at: At): (typeof visibilities)[number] {
  if (typeof value !== 'string' || !(visibilities as readonly string[]).includes(value)) fail(`visibility is one of ${visibilities.join(', ')}, not ${JSON.stringify(value)}`, at);
  return value as (typeof visibilities)[number];
}

// PostgreSQL cannot hold these in text or jsonpath (docs/records.md, "Values that cannot be stored").
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A string to search for: 1 to 1024 characters PostgreSQL can hold. */
export function checkText(what: string, value: unknown, at: At): string {
  if (typeof value !== 'string' || value === '' || value.length > 1024) fail(`${what} is a string of 1 to 1024 characters`, at);
  if (unstorable.test(value)) fail(`${what} holds a NUL character or a lone surrogate, which no record can hold`, at);
  return value;
}

/** A JSON value to compare content with: a string, a finite number, a boolean or null. */
export function checkScalar(value: unknown, at: At): string | number | boolean | null {
  if (typeof value === 'string') return value === '' ? value : checkText('a value', value, at);
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return value;
  fail(`content is compared with a string, a number, true, false or null, not ${JSON.stringify(value)}`, at);
}

export const rangeKeys = ['gt', 'gte', 'lt', 'lte'] as const;
export type RangeKey = (typeof rangeKeys)[number];

/**
 * The content clauses of a filter, outermost first. A record type whose content is encrypted at
 * rest cannot be searched by content: the route refuses a filter that has any, for such types.
 */
export function contentClauses(filter: RecordFilter): ContentClause[] {
  const found: ContentClause[] = [];
  const walk = (f: RecordFilter): void => {
    if ('and' in f) f.and.forEach(walk);
    else if ('or' in f) f.or.forEach(walk);
    else if ('not' in f) walk(f.not);
    else if ('content' in f) found.push(f.content);
  };
  walk(filter);
  return found;
}


/**
 * The record types a filter is held to, when it is held to some: a `type` clause, alone or among
 * the clauses of a top-level `and` (or of an `or` of such). Null when any type may match.
 */
export function typesHeldTo(filter: RecordFilter): Set<string> | null {
  if ('type' in filter) return new Set([filter.type]);
  if ('and' in filter) {
    for (const f of filter.and) {
      const held = typesHeldTo(f);
      if (held) return held;
    }
    return null;
  }
  if ('or' in filter) {
    const all = new Set<string>();
    for (const f of filter.or) {
      const held = typesHeldTo(f);
      if (!held) return null;
      for (const t of held) all.add(t);
    }
    return all;
  }
  return null;
}
