import { Readable } from 'node:stream';
import Type from 'typebox';
import { IdParams, ImportRecordsResult, ListRecordsQuery, RecordIn, RecordPage, RecordWithEnhancements } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { checkUuidCursor, decodeCursor, page, parsedBody, routePlugin, validatorCompiler } from '../http/index.ts';
import { openRecord } from './encryption.ts';
import { importRecords } from './importRecords.ts';
import { recordsFromBody } from './recordTexts.ts';
import { getRecordWithEnhancements } from './queries/getRecord.ts';
import { listRecords } from './queries/listRecords.ts';

const jsonLinesTypes = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'];
const streamedTypes = ['application/json', ...jsonLinesTypes];

/** What POST /v1/records takes, for the OpenAPI document: importRecords.ts checks each record as it streams in. */
const RecordsBody = {
  content: {
    'application/json': { schema: Type.Array(RecordIn, { description: 'A JSON array of records.' }) },
    ...Object.fromEntries(jsonLinesTypes.map((type) => [type, { schema: Type.String({ description: 'JSON Lines: one record (RecordIn) per line.' }) }])),
  },
};

export const recordRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'config' | 'db' | 'keys' | 'metrics'> }>('records', async (app, { ctx }) => {
  // Record bodies are read record by record as they arrive, never buffered whole: hand the raw stream to the route.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(streamedTypes, (_request, payload, done) => done(null, payload));

  app.post('/v1/records', {
    config: { access: 'requester' },
    // The body is a stream, checked record by record as it is read: the schema only documents it.
    validatorCompiler: (route) => (route.httpPart === 'body' ? () => true : validatorCompiler(route)),
    schema: {
      tags: ['records'],
      summary: 'Upsert records by identifier: a JSON array, or JSONL (application/x-ndjson); all or nothing',
      body: RecordsBody,
      response: { 200: ImportRecordsResult },
    },
    handler: async (request, reply) => {
      const body = parsedBody<Readable | undefined>(request);
      if (!body) throw errors.invalidRequest('send a JSON array or JSONL of records');
      const { json } = await importRecords(ctx, recordsFromBody(body, request.headers['content-type'] ?? ''));
      return reply.type('application/json; charset=utf-8').send(Readable.from(json));
    },
  });

  app.get('/v1/records', {
    config: { access: 'requester' },
    schema: { tags: ['records'], summary: 'List records, or look one up by `identifier=type:value`', querystring: ListRecordsQuery, response: { 200: RecordPage } },
    handler: async (request) => {
      const q = request.query;
      const limit = q.limit ?? 100;
      const [identifierType, ...rest] = q.identifier?.split(':') ?? [];
      const rows = await listRecords(ctx.db, {
        type: q.type ?? null,
        identifierType: identifierType ?? null,
        identifierValue: q.identifier ? rest.join(':') : null,
        afterId: checkUuidCursor(decodeCursor(q.cursor)),
        limit: limit + 1,
      });
      return page(
        rows.map((r) => openRecord(ctx.keys, r)),
        limit,
        (r) => r.id,
      );
    },
  });

  app.get('/v1/records/:id', {
    config: { access: 'requester' },
    schema: { tags: ['records'], summary: 'A record with its enhancements', params: IdParams, response: { 200: RecordWithEnhancements } },
    handler: async (request) => {
      const { id } = request.params;
      const record = await getRecordWithEnhancements(ctx.db, { id });
      if (!record) throw errors.notFound('record');
      return openRecord(ctx.keys, record);
    },
  });
});
