import Type from 'typebox';
import { Json, RecordCount, RecordSearchPage, SearchRecordsBody } from '@refinery/protocol';
import type { Context } from '../../context.ts';
import { checkUuidCursor, decodeCursor, page, routePlugin, validatorCompiler } from '../../http/index.ts';
import { searchRecords } from '../queries/searchRecords.ts';
import { compileFilter } from './compileFilter.ts';
import { countMatches, filterOf, refuseEncryptedContent, withinSearchTimeout } from './runQuery.ts';

/** The body as ajv checks it: the filter is checked by checkFilter, which says where each mistake is. */
const bodyChecked = Type.Object({ ...SearchRecordsBody.properties, filter: Type.Optional(Json) }, { additionalProperties: false });

export const searchRoutes = routePlugin<{ ctx: Pick<Context, 'config' | 'db'> }>('record-search', async (app, { ctx }) => {
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
      const filter = filterOf(ctx, body);
      await refuseEncryptedContent(ctx.db, filter);
      if (body.count_only) return countMatches(ctx, filter);
      const limit = body.limit ?? 100;
      const afterId = checkUuidCursor(decodeCursor(body.cursor));
      const where = compileFilter(filter);
      const rows = await withinSearchTimeout(ctx, (db) => searchRecords(db, where, { afterId, limit: limit + 1 }));
      return page(rows, limit, (r) => r.id);
    },
  });
});
