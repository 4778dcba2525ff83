import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { IdParams, ItemPage, ListItemsQuery, ListRequestsQuery, RequestBatchPage, RequestIn, RequestOut, RequestPage, RetryIn, itemFinalStatuses, PageQuery } from '@refinery/protocol';
import { keyOf } from '../auth/authenticate.ts';
import { signedUrlSeconds, type BlobStore } from '../blobs/store.ts';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { validatorCompiler } from '../http/validation.ts';
import { checkIntCursor, checkUuidCursor, decodeCursor, page } from '../http/cursor.ts';
import { createRequest } from './createRequest.ts';
import { parseRequestBody, type RequestBody, type RecordIdList } from './requestBody.ts';
import { cancelRequest } from './lifecycle.ts';
import { retryRequest } from './retryRequest.ts';
import { getRequest } from './queries/getRequest.ts';
import { listItems, type ItemRow } from './queries/listItems.ts';
import { listRequestBatches } from './queries/listRequestBatches.ts';
import { listRequests } from './queries/listRequests.ts';
import { priorityOf, type RequestRow } from './queries/requestRow.ts';

/** Bodies of up to a million record ids. */
const requestBodyLimit = 64 * 1024 * 1024;

/** RequestIn as the route validates it once the parser has checked and packed record_ids. */
const RequestInPacked = Type.Object({ ...RequestIn.properties, record_ids: Type.Unsafe<RecordIdList>({}) }, { additionalProperties: false });

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

/** The request of the route's `:id`, if the caller may see it: its owner or an admin; anyone else gets 404. */
export async function visibleRequestOf(ctx: Context, request: FastifyRequest): Promise<RequestRow> {
  const { id } = request.params as { id: string };
  const key = keyOf(request);
  const row = await getRequest(ctx.db, { id });
  if (!row || (key.role !== 'admin' && row.requested_by !== key.keyId)) throw errors.notFound('request');
  return row;
}

export const requestRoutes: FastifyPluginAsync<{ ctx: Context }> = async (app, { ctx }) => {
  /** The request, if the caller may see it: its owner or an admin; anyone else gets 404. */
  const visibleRequest = (request: FastifyRequest) => visibleRequestOf(ctx, request);

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
        summary: 'Ask a robot to enhance records; answers 202 at once',
        body: RequestIn,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
        response: { 202: RequestOut, 200: RequestOut },
      },
      handler: async (request, reply) => {
        const key = keyOf(request);
        const { request: row, created } = await createRequest(ctx, {
          body: request.body as RequestBody,
          requestedBy: key.keyId,
          idempotencyKey: (request.headers['idempotency-key'] as string | undefined) ?? null,
        });
        return reply.status(created ? 202 : 200).header('location', `/v1/requests/${row.id}`).send(await requestOut(ctx.blobs, row));
      },
    });
  });

  app.get('/v1/requests', {
    config: { access: 'requester' },
    schema: { tags: ['requests'], summary: 'List requests, newest first (a requester sees its own)', querystring: ListRequestsQuery, response: { 200: RequestPage } },
    handler: async (request) => {
      const key = keyOf(request);
      const q = request.query as { status?: string; robot_id?: string; requested_by?: string; cursor?: string; limit?: number };
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
    schema: { tags: ['requests'], summary: 'Status, counts, progress, timestamps, manifest link', params: IdParams, response: { 200: RequestOut } },
    handler: async (request) => requestOut(ctx.blobs, await visibleRequest(request)),
  });

  app.post('/v1/requests/:id/cancel', {
    config: { access: 'requester' },
    schema: {
      tags: ['requests'],
      summary: 'Cancel what has not finished: open items become cancelled, the request cancelled; again: 200 unchanged; finished otherwise: 409',
      params: IdParams,
      response: { 200: RequestOut },
    },
    handler: async (request) => requestOut(ctx.blobs, await cancelRequest(ctx, (await visibleRequest(request)).id)),
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
      const original = await visibleRequest(request);
      const { request: row, created } = await retryRequest(ctx, original, request.body as RetryIn);
      return reply.status(created ? 202 : 200).header('location', `/v1/requests/${row.id}`).send(await requestOut(ctx.blobs, row));
    },
  });

  app.get('/v1/requests/:id/items', {
    config: { access: 'requester' },
    schema: { tags: ['requests'], summary: "Every item's outcome and error", params: IdParams, querystring: ListItemsQuery, response: { 200: ItemPage } },
    handler: async (request) => {
      const row = await visibleRequest(request);
      const q = request.query as { status?: string; cursor?: string; limit?: number };
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
      const row = await visibleRequest(request);
      const q = request.query as { cursor?: string; limit?: number };
      const limit = q.limit ?? 100;
      const rows = await listRequestBatches(ctx.db, { requestId: row.id, afterId: checkUuidCursor(decodeCursor(q.cursor)), limit: limit + 1 });
      const p = page(rows, limit, (r) => r.id);
      const data = await Promise.all(
        p.data.map(async ({ report_key, ...b }) => ({ ...b, report_url: report_key && !b.files_deleted_at ? await ctx.blobs.signedUrl(report_key, 'GET', signedUrlSeconds) : null })),
      );
      return { data, next_cursor: p.next_cursor };
    },
  });
};
