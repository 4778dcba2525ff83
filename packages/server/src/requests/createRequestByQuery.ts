import { createHash } from 'node:crypto';
import { canonicalJson, type RecordFilter } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { tuneForRows } from '../db/index.ts';
import { newId } from '../ids.ts';
import { compileFilter, withinSearchTimeout } from '../records/index.ts';
import { writeBacklog } from './backlog.ts';
import { checkRobotTakesRequests, createdRequest, sameRequest, termsOf } from './createTerms.ts';
import { finishRequestsIfDone } from './queries/finishRequestsIfDone.ts';
import { getRequestByIdempotencyKey } from './queries/getRequest.ts';
import { insertRequestFromQuery, queryFilterFirstParam } from './queries/insertRequestFromQuery.ts';
import type { RequestRow } from './queries/requestRow.ts';
import type { RequestBody } from './requestBody.ts';

/** A request by query: RequestIn's other fields, and the query as sent (`query`) and checked (`filter`). */
export type QueryRequestBody = Omit<RequestBody, 'record_ids'> & { query: string | null; filter: RecordFilter };

/**
 * Accepts a request for every record a query matches (docs/queries.md): one statement puts their
 * ids in the request's backlog, in PostgreSQL, and the backlog's writer makes them items after
 * the commit, as it does a large request's (docs/internals/0023-requests-by-query.md). The
 * statement reads what the query reads, so it runs under REFINERY_SEARCH_TIMEOUT as a search does.
 * Idempotency keys work as in createRequest.
 */
export async function createRequestByQuery(
  ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'log' | 'metrics' | 'work'>,
  input: { body: QueryRequestBody; requestedBy: string; idempotencyKey: string | null },
): Promise<{ request: RequestRow; created: boolean }> {
  const { body } = input;
  const now = ctx.clock.now();
  const terms = termsOf(body, now);
  const bodyHash = createHash('sha256').update(canonicalJson(body)).digest('hex');
  const id = newId();
  const outcome = await withinSearchTimeout(ctx, async (tx) => {
    // A query may match any number of records: tuned as the largest create.
    await tuneForRows(tx, Number.POSITIVE_INFINITY);
    const inserted = await insertRequestFromQuery(tx, {
      id,
      robotId: body.robot_id,
      requestedBy: input.requestedBy,
      ...terms,
      idempotencyKey: input.idempotencyKey,
      bodyHash,
      now,
      slice: ctx.config.createSlice,
      query: body.query,
      filter: body.filter,
      where: compileFilter(body.filter, queryFilterFirstParam),
    });
    checkRobotTakesRequests(inserted.robot, body.robot_id);
    if (!inserted.request) return { existing: await getRequestByIdempotencyKey(tx, { requestedBy: input.requestedBy, key: input.idempotencyKey! }) };
    // A query that matched nothing: the request is final at once.
    const finished = inserted.request.total === 0 ? await finishRequestsIfDone(tx, { requestIds: [id], now }) : [];
    return { created: inserted.request, finished };
  });
  if ('existing' in outcome) {
    const { existing } = outcome;
    // Only if the original was deleted between the two statements: ask again, it inserts this time.
    if (!existing) return createRequestByQuery(ctx, input);
    return sameRequest(existing, bodyHash);
  }
  ctx.metrics.requestsCreated.inc();
  if (outcome.created.total > 0) ctx.background.run('backlog', { request_id: id }, () => writeBacklog(ctx));
  return createdRequest(ctx, outcome.created, outcome.finished);
}
