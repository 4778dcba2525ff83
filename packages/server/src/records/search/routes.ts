import Type from 'typebox';
import { Json, RecordCount, type RecordFilter, RecordSearchPage, SearchRecordsBody } from '@refinery/protocol';
import type { Context } from '../../context.ts';
import type { Queryable } from '../../db/db.ts';
import { errors } from '../../errors.ts';
import { checkUuidCursor, decodeCursor, page } from '../../http/cursor.ts';
import { validatorCompiler } from '../../http/validation.ts';
import { countRecords } from '../queries/countRecords.ts';
import { searchRecords } from '../queries/searchRecords.ts';
import { listEncryptedTypes } from '../queries/encryptedTypes.ts';
import { checkFilter } from './checkFilter.ts';
import { contentClauses, typesHeldTo } from './clauses.ts';
import { compileFilter } from './compileFilter.ts';
import { parseQuery } from './parseQuery.ts';
import { routePlugin } from '../../http/typeProvider.ts';

/** PostgreSQL's code for a statement stopped by its `statement_timeout`. */
const queryCanceled = '57014';

/** The body as ajv checks it: the filter is checked by checkFilter, which says where each mistake is. */
const bodyChecked = Type.Object({ ...SearchRecordsBody.properties, filter: Type.Optional(Json) }, { additionalProperties: false });

export const searchRoutes = routePlugin<{ ctx: Pick<Context, 'config' | 'db'> }>('record-search', async (app, { ctx }) => {
  /**
   * An encrypted type's content is not stored in clear (docs/encryption.md), so a filter with
   * content clauses must be held to types that are not encrypted; identifiers stay searchable.
   */
  async function refuseEncryptedContent(filter: RecordFilter): Promise<void> {
    if (contentClauses(filter).length === 0) return;
    const encrypted = await listEncryptedTypes(ctx.db);
    if (encrypted.length === 0) return;
    const held = typesHeldTo(filter);
    const hit = held ? encrypted.filter((t) => held.has(t)) : encrypted;
    if (hit.length > 0) throw errors.encryptedContent(hit, held === null);
  }

  /** A search may read every record (a "contains", a range alone): it holds its connection no longer than REFINERY_SEARCH_TIMEOUT. */
  async function withinSearchTimeout<T>(search: (db: Queryable) => Promise<T>): Promise<T> {
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

  app.post('/v1/records/search', {
    config: { access: 'requester' },
    validatorCompiler: (route) => validatorCompiler(route.httpPart === 'body' ? { ...route, schema: bodyChecked } : route),
    schema: {
      tags: ['records'],
      summary: 'Records that match a query (a Lucene-style string, or a RecordFilter), cursor-paged; or, with `count_only`, how many',
      description: 'A query that cannot be run is refused with 400 `invalid_query`, its `details` saying where: `{"offset"}` into `query`, or `{"pointer"}` into the body. See docs/queries.md.',
      body: SearchRecordsBody,
      response: { 200: Type.Union([RecordSearchPage, RecordCount]) },
    },
    handler: async (request) => {
      const body = request.body;
      if ((body.query === undefined) === (body.filter === undefined)) throw errors.invalidRequest('send a query string (`query`) or a filter (`filter`): one of the two');
      const filter = body.query !== undefined ? parseQuery(body.query, ctx.config.queryMaxClauses) : checkFilter(body.filter, ctx.config.queryMaxClauses);
      await refuseEncryptedContent(filter);
      const where = compileFilter(filter);
      if (body.count_only) {
        const cap = ctx.config.searchCountCap;
        const count = await withinSearchTimeout((db) => countRecords(db, where, cap));
        return count > cap ? { count: cap, lower_bound: true } : { count };
      }
      const limit = body.limit ?? 100;
      const afterId = checkUuidCursor(decodeCursor(body.cursor));
      const rows = await withinSearchTimeout((db) => searchRecords(db, where, { afterId, limit: limit + 1 }));
      return page(rows, limit, (r) => r.id);
    },
  });
});
