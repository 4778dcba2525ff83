import type { RecordCount, RecordFilter } from '@refinery/protocol';
import type { Context } from '../../context.ts';
import type { Queryable } from '../../db/index.ts';
import { errors } from '../../errors.ts';
import { countRecords } from '../queries/countRecords.ts';
import { listEncryptedTypes } from '../queries/encryptedTypes.ts';
import { checkFilter } from './checkFilter.ts';
import { contentClauses, typesHeldTo } from './clauses.ts';
import { compileFilter } from './compileFilter.ts';
import { parseQuery, type QueryFields } from './parseQuery.ts';

/** PostgreSQL's code for a statement stopped by its `statement_timeout`. */
const queryCanceled = '57014';

/**
 * The checked filter of a body that sends a query string (`query`) or a RecordFilter (`filter`):
 * one of the two, else 400 `invalid_request`; a bad query is 400 `invalid_query` with where.
 */
export function filterOf(ctx: Pick<Context, 'config'>, body: { query?: string; filter?: unknown }, fields?: QueryFields): RecordFilter {
  if ((body.query === undefined) === (body.filter === undefined)) throw errors.invalidRequest('send a query string (`query`) or a filter (`filter`): one of the two');
  return body.query !== undefined ? parseQuery(body.query, ctx.config.queryMaxClauses, fields) : checkFilter(body.filter, ctx.config.queryMaxClauses);
}

/**
 * An encrypted type's content is not stored in clear (docs/encryption.md), so a filter with
 * content clauses must be held to types that are not encrypted; identifiers stay searchable.
 */
export async function refuseEncryptedContent(db: Queryable, filter: RecordFilter): Promise<void> {
  if (contentClauses(filter).length === 0) return;
  const encrypted = await listEncryptedTypes(db);
  if (encrypted.length === 0) return;
  const held = typesHeldTo(filter);
  const hit = held ? encrypted.filter((t) => held.has(t)) : encrypted;
  if (hit.length > 0) throw errors.encryptedContent(hit, held === null);
}

/** A query may read every record (a "contains", a range alone): it holds its connection no longer than REFINERY_SEARCH_TIMEOUT. */
export async function withinSearchTimeout<T>(ctx: Pick<Context, 'config' | 'db'>, search: (db: Queryable) => Promise<T>): Promise<T> {
  const ms = ctx.config.searchTimeoutMs;
  try {
    return await ctx.db.transaction(async (tx) => {
      await tx.query(`select set_config('statement_timeout', $1, true)`, [`${ms}ms`]);
      return search(tx);
    });
  } catch (err) {
    if ((err as { code?: string }).code === queryCanceled) throw errors.queryTimeout(ms);
    throw err;
  }
}

/** How many records a filter matches, up to REFINERY_SEARCH_COUNT_CAP: past it, the cap and `lower_bound`. */
export async function countMatches(ctx: Pick<Context, 'config' | 'db'>, filter: RecordFilter): Promise<RecordCount> {
  const cap = ctx.config.searchCountCap;
  const count = await withinSearchTimeout(ctx, (db) => countRecords(db, compileFilter(filter), cap));
  return count > cap ? { count: cap, lower_bound: true } : { count };
}
