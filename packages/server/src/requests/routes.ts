import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { IdParams, ItemPage, Json, ListItemsQuery, ListRequestsQuery, RecordCount, RequestBatchPage, RequestIn, RequestOut, RequestPage, RetryIn, itemFinalStatuses, PageQuery } from '@refinery/protocol';
import { callerOwns, keyOf } from '../auth/index.ts';
import { signedUrlSeconds, type BlobStore } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { checkIntCursor, checkUuidCursor, decodeCursor, page, parsedBody, routePlugin, validatorCompiler } from '../http/index.ts';
import { countMatches, filterOf, refuseEncryptedContent } from '../records/index.ts';
import { createRequest } from './createRequest.ts';
import { provenanceOfRequest } from '../automations/index.ts';
import { createRequestByQuery } from './createRequestByQuery.ts';
import { parseRequestBody, type RequestBody, type RequestBodyIn, type RecordIdList } from './requestBody.ts';
import { cancelRequest } from './lifecycle.ts';
import { retryRequest } from './retryRequest.ts';
import { getRequest } from './queries/getRequest.ts';
import { listItems, type ItemRow } from './queries/listItems.ts';
import { listRequestBatches } from './queries/listRequestBatches.ts';
import { listRequests } from './queries/listRequests.ts';
import { priorityOf, type RequestRow } from './queries/requestRow.ts';

/** Bodies of up to a million record ids. */
const requestBodyLimit = 64 * 1024 * 1024;

/** RequestIn as the route validates it once the parser has checked and packed record_ids; a filter is checked by checkFilter, which says where each mistake is. */
const RequestInPacked = Type.Object(
  { ...RequestIn.properties, record_ids: Type.Optional(Type.Unsafe<RecordIdList>({})), filter: Type.Optional(Json) },
  { additionalProperties: false },
);

export async function requestOut(blobs: BlobStore, row: RequestRow) {
  const { body_hash: _hash, manifest_key, counts, priority, ...rest } = row;
  const final = itemFinalStatuses.reduce((sum, s) => sum + counts[s], 0);
  return {
    ...rest,
    priority: priorityOf(priority),
    counts,
    progress: row.total === 0 ? 1 : final / row.total,
    manifest_url: manifest_key ? await blobs.signedUrl(manifest_key, 'GET', signedUrlSeconds) : null,
  };
}

function itemOut(row: ItemRow) {
  return {
    record_id: row.record_id,
    status: row.status,
    attempts: row.attempts,
    batch_id: row.batch_id,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    updated_at: row.updated_at,
  };
}

/** The request `id`, if the caller may see it: its owner or an admin; anyone else gets 404 (`what` names it). */
export async function visibleRequestOf(ctx: Pick<Context, 'db'>, request: FastifyRequest, id: string, what = 'request'): Promise<RequestRow> {
  const row = await getRequest(ctx.db, { id });
  if (!row || !callerOwns(request, row.requested_by)) throw errors.notFound(what);
  return row;
}

export const requestRoutes = routePlugin<{ ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'log' | 'metrics' | 'work'> }>('requests', async (app, { ctx }) => {
  const visibleRequest = (request: FastifyRequest, id: string) => visibleRequestOf(ctx, request, id);

  // Creation parses its body as it streams in (requestBody.ts), in a scope of its own.
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', (request: FastifyRequest, payload: IncomingMessage) =>
      parseRequestBody(payload, requestBodyLimit, request.headers['content-length']),
    );
    scope.post('/v1/requests', {
      config: { access: 'requester' },
      // record_ids is checked and packed by the parser; the schema still documents it.
      validatorCompiler: (route) => validatorCompiler(route.httpPart === 'body' ? { ...route, schema: RequestInPacked } : route),
      schema: {
        tags: ['requests'],
        summary: 'Ask a robot to enhance records (listed, or every one a query matches); answers 202 at once',
        description:
          'Send `record_ids`, or `query` (a Lucene-style string) or `filter` (a RecordFilter) for every record it matches (docs/queries.md); a bad query is 400 `invalid_query` with where it is wrong. ' +
          'With `dry_run`, a query is counted (200 `{count, lower_bound?}`) and nothing is created.',
        body: RequestIn,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        response: { 202: RequestOut, 200: Type.Union([RequestOut, RecordCount]) },
      },
      handler: async (request, reply) => {
        const key = keyOf(request);
        const { record_ids, query, filter, dry_run, ...rest } = parsedBody<RequestBodyIn>(request);
        const idempotencyKey = (request.headers['idempotency-key'] as string | undefined) ?? null;
        const asked = [record_ids, query, filter].filter((v) => v !== undefined).length;
        if (asked !== 1) throw errors.invalidRequest('send record_ids, a query string (`query`) or a filter (`filter`): one of the three');
        let outcome;
        if (record_ids) {
          if (dry_run !== undefined) throw errors.invalidRequest('dry_run counts what a query matches: send it with `query` or `filter`');
          outcome = await createRequest(ctx, { body: { ...rest, record_ids } as RequestBody, requestedBy: key.keyId, idempotencyKey });
        } else {
          const checked = filterOf(ctx, { query, filter });
          await refuseEncryptedContent(ctx.db, checked);
          if (dry_run) return reply.status(200).send(await countMatches(ctx, checked));
          outcome = await createRequestByQuery(ctx, { body: { ...rest, query: query ?? null, filter: checked }, requestedBy: key.keyId, idempotencyKey });
        }
        const { request: row, created } = outcome;
        return reply.status(created ? 202 : 200).header('location', `/v1/requests/${row.id}`).send(await requestOut(ctx.blobs, row));
      },
    });
  });

  app.get('/v1/requests', {
    config: { access: 'requester' },
    schema: { tags: ['requests'], summary: 'List requests, newest first (a requester sees its own)', querystring: ListRequestsQuery, response: { 200: RequestPage } },
    handler: async (request) => {
      const key = keyOf(request);
      const q = request.query;
      const limit = q.limit ?? 100;
      if (key.role !== 'admin' && q.requested_by && q.requested_by !== key.keyId) return { data: [], next_cursor: null };
      const rows = await listRequests(ctx.db, {
        requestedBy: key.role === 'admin' ? (q.requested_by ?? null) : key.keyId,
        status: q.status ?? null,
        robotId: q.robot_id ?? null,
        afterId: checkUuidCursor(decodeCursor(q.cursor)),
        limit: limit + 1,
      });
      const p = page(rows, limit, (r) => r.id);
      return { data: await Promise.all(p.data.map((r) => requestOut(ctx.blobs, r))), next_cursor: p.next_cursor };
    },
  });

  app.get('/v1/requests/:id', {
    config: { access: 'requester' },
    schema: { tags: ['requests'], summary: 'Status, counts, progress, timestamps, manifest link; the automation that made it, if one did', params: IdParams, response: { 200: RequestOut } },
    handler: async (request) => {
      const row = await visibleRequest(request, request.params.id);
      return { ...(await requestOut(ctx.blobs, row)), automation: await provenanceOfRequest(ctx.db, { requestId: row.id }) };
    },
  });

  app.post('/v1/requests/:id/cancel', {
    config: { access: 'requester' },
    schema: {
      tags: ['requests'],
      summary: 'Cancel what has not finished: open items become cancelled, the request cancelled; again: 200 unchanged; finished otherwise: 409',
      params: IdParams,
      response: { 200: RequestOut },
    },
    handler: async (request) => requestOut(ctx.blobs, await cancelRequest(ctx, (await visibleRequest(request, request.params.id)).id)),
  });

  app.post('/v1/requests/:id/retry', {
    config: { access: 'requester' },
    // The body is optional: none at all retries every failed item.
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags: ['requests'],
      summary:
        "Retry a finished request's failed items (all, or `record_ids`) as a new request with `retry_of` set: 202 with it; " +
        'the same call again: 200 with the same retry; another call for a request retried already: 409 `already_retried`; ' +
        'an unfinished request: 409 `request_not_finished`; no failed item: 409 `nothing_to_retry`; ' +
        'an id that is not a failed item of the request: 409 `items_not_failed` naming each',
      params: IdParams,
      body: Type.Optional(RetryIn),
      response: { 202: RequestOut, 200: RequestOut },
    },
    handler: async (request, reply) => {
      const original = await visibleRequest(request, request.params.id);
      const { request: row, created } = await retryRequest(ctx, original, request.body);
      return reply.status(created ? 202 : 200).header('location', `/v1/requests/${row.id}`).send(await requestOut(ctx.blobs, row));
    },
  });

  app.get('/v1/requests/:id/items', {
    config: { access: 'requester' },
    schema: { tags: ['requests'], summary: "Every item's outcome and error", params: IdParams, querystring: ListItemsQuery, response: { 200: ItemPage } },
    handler: async (request) => {
      const row = await visibleRequest(request, request.params.id);
      const q = request.query;
      const limit = q.limit ?? 100;
      const rows = await listItems(ctx.db, { requestId: row.id, status: q.status ?? null, afterSeq: checkIntCursor(decodeCursor(q.cursor)), limit: limit + 1 });
      const p = page(rows, limit, (r) => r.seq);
      return { data: p.data.map(itemOut), next_cursor: p.next_cursor };
    },
  });

  app.get('/v1/requests/:id/batches', {
    config: { access: 'requester' },
    schema: {
      tags: ['requests'],
      summary: "The batches that carried this request's items, with their validation reports",
      params: IdParams,
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: RequestBatchPage },
    },
    handler: async (request) => {
      const row = await visibleRequest(request, request.params.id);
      const q = request.query;
      const limit = q.limit ?? 100;
      const rows = await listRequestBatches(ctx.db, { requestId: row.id, afterId: checkUuidCursor(decodeCursor(q.cursor)), limit: limit + 1 });
      const p = page(rows, limit, (r) => r.id);
      const data = await Promise.all(
        p.data.map(async ({ report_key, ...b }) => ({ ...b, report_url: report_key && !b.files_deleted_at ? await ctx.blobs.signedUrl(report_key, 'GET', signedUrlSeconds) : null })),
      );
      return { data, next_cursor: p.next_cursor };
    },
  });
});
