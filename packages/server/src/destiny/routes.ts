import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { destiny, IdParams, parseDuration, robotDefaults } from '@refinery/protocol';
import { keyOf, signingRobotOf } from '../auth/index.ts';
import { batchOut, type BatchRow, failLeasedBatch, getBatch, itemsFileCanFollowAnswer, type LeasedBatch, leaseNewBatch, renewBatchLeaseIfLeased, startResultsImport, writeItemsFile } from '../batches/index.ts';
import type { Context } from '../context.ts';
import { AppError, errorBody, errors } from '../errors.ts';
import { parsedBody, parseStorableJson, routePlugin, validationMessage, validatorCompiler } from '../http/index.ts';
import { newId } from '../ids.ts';
import { countMatches, filterOf, findMissingRecords, getRecordWithEnhancements, refuseEncryptedContent } from '../records/index.ts';
import { countBacklogIds, createRequest, createRequestByQuery, getRequest, listItems, parseRequestBody, type RecordIdList, setRequestSource, visibleRequestOf, writeBacklogOf } from '../requests/index.ts';
import { getRobot, insertRobot, listRobots, type RobotRow, rotateRobotSecret, updateRobot } from '../robots/index.ts';
import { sealRobotSecret } from '../keys/index.ts';
import { toDestinyIdentifier } from './identifiers.ts';
import { enhancementRequestJson, searchEnhancementRequestRead } from './requests.ts';
import { destinyMaxBatchSize, destinyRobot, newDestinyRobotId, newDestinySecret, refineryFields } from './robots.ts';

/** Bodies of up to a million reference ids, as POST /v1/requests takes. */
const requestBodyLimit = 64 * 1024 * 1024;
/** Reference ids read and written per page when a request's are listed. */
const idsPage = 10_000;
const maxLeaseMs = 24 * 3600_000;
const tags = ['destiny'];
/** Robots sign as destiny_sdk does (an unsigned call is told what that needs), or with RFC 9421. */
const robotAccess = { access: 'robot', signatureScheme: 'destiny' } as const;

const PollQuery = Type.Object(
  {
    robot_id: destiny.Uuid,
    limit: Type.Optional(Type.Integer({ minimum: 1, description: `At most this many references; more is taken as ${destinyMaxBatchSize}.` })),
    lease: Type.Optional(Type.String({ maxLength: 50, description: 'ISO 8601 (`PT10M`), `HH:MM:SS` or seconds; default PT10M.' })),
  },
  { additionalProperties: false },
);
const LeaseQuery = Type.Object({ lease: PollQuery.properties.lease }, { additionalProperties: false });
const EnhancementRequestInPacked = Type.Object({ ...destiny.EnhancementRequestIn.properties, reference_ids: Type.Unsafe<RecordIdList>({}) }, { additionalProperties: false });

/** A lease's length: ISO 8601, `HH:MM:SS` (pydantic's timedelta) or seconds, from 1 s to 24 h. */
function leaseMsFrom(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const clock = /^(\d+):([0-5]\d):([0-5]\d(?:\.\d+)?)$/.exec(text);
  const ms = clock ? ((Number(clock[1]) * 60 + Number(clock[2])) * 60 + Number(clock[3])) * 1000 : parseDuration(text);
  if (ms === null || ms < 1000 || ms > maxLeaseMs) throw errors.of('invalid_lease', 'lease must be a duration (ISO 8601 such as PT10M, HH:MM:SS, or seconds) from 1 second to 24 hours');
  return ms;
}

/** The uuid text of the ids packed in `list`, a page at a time. */
async function* packedIds(list: RecordIdList): AsyncIterable<string[]> {
  const hex = list.packed.toString('hex');
  for (let start = 0; start < list.length; start += idsPage) {
    const page: string[] = [];
    for (let i = start; i < Math.min(list.length, start + idsPage); i++) {
      const h = hex.slice(i * 32, i * 32 + 32);
      page.push(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
    }
    yield page;
  }
}

/** A request's record ids, in the order of its items, a page at a time. */
async function* itemIds(ctx: Pick<Context, 'db'>, requestId: string): AsyncIterable<string[]> {
  let afterSeq: string | null = null;
  for (;;) {
    const rows = await listItems(ctx.db, { requestId, status: null, afterSeq, limit: idsPage });
    yield rows.map((r) => r.record_id);
    if (rows.length < idsPage) return;
    afterSeq = rows[rows.length - 1].seq;
  }
}

/** A batch as DESTINY's `RobotEnhancementBatch`, its URLs signed afresh (and its validation report's once imported). */
async function robotBatch(ctx: Pick<Context, 'blobs' | 'clock'>, batch: BatchRow): Promise<destiny.RobotEnhancementBatch> {
  const out = await batchOut(ctx, batch);
  return { id: out.id, reference_storage_url: out.items_url, result_storage_url: out.results_url, extra_fields: null, validation_result_url: out.report_url };
}

/** A batch as DESTINY's `RobotEnhancementBatchRead`, as the results post answers. */
async function batchRead(ctx: Pick<Context, 'blobs' | 'clock'>, batch: BatchRow, error: string | null): Promise<destiny.RobotEnhancementBatchRead> {
  const out = await batchOut(ctx, batch);
  return { id: batch.id, robot_id: batch.robot_id, source: null, reference_data_url: out.items_url, result_storage_url: out.results_url, validation_result_url: null, error };
}

/**
 * DESTINY's answers to bad input: 422 for what FastAPI's validation refuses (a query, path or body
 * that does not match, JSON that does not parse), in Refinery's error shape; the rest as everywhere.
 */
export function answerInDestinyCodes(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...route.config, invalidInputStatus: 422 };
  });
  scope.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err.validation) return reply.status(422).send(errorBody('invalid_request', validationMessage(err), err.validation));
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.status(422).send(errorBody('malformed_json', `body is not valid JSON: ${err.message}`));
    }
    throw err;
  });
  // The SDK sends `Content-Type: application/json` with the empty bodies of the poll and the renewal.
  parseStorableJson(scope, { emptyIsNothing: true, constructorPoisoning: 'ignore' });
}

/**
 * The DESTINY-compatible API (docs/destiny.md): DESTINY's paths (trailing slashes included), models
 * and status codes, over Refinery's services, state machines and SQL. Robots sign as destiny_sdk
 * does or with RFC 9421; requesters and admins send Refinery's API keys.
 */
export const destinyRoutes = routePlugin<{ ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'keys' | 'log' | 'metrics' | 'recentRobots' | 'work'> }>('destiny', async (app, { ctx }) => {
  answerInDestinyCodes(app);

  /** The caller's batch (another robot's is as good as missing): `missing` says what to answer otherwise. */
  async function ownBatch(request: FastifyRequest, id: string, missing: (id: string) => AppError = () => errors.notFound('batch')): Promise<BatchRow> {
    const batch = await getBatch(ctx.db, { id, robotId: signingRobotOf(request).id });
    if (!batch) throw missing(id);
    return batch;
  }

  /**
   * Hands in the batch of the path with the robot's result (RobotEnhancementBatchResult or
   * RobotResult): its `request_id` must name that batch (DESTINY's 400 "Request ID mismatch");
   * with `error` every item fails with the robot's message, without it the result file is
   * imported after the answer; late or a second time, DESTINY's 422 and nothing imported.
   */
  async function handIn(request: FastifyRequest, id: string, body: destiny.RobotEnhancementBatchResult): Promise<{ batch: BatchRow; error: string | null }> {
    if (body.request_id.toLowerCase() !== id.toLowerCase()) throw errors.invalidRequest(`Request ID mismatch: request_id ${body.request_id} is not the batch ${id} of the path`);
    const batch = await ownBatch(request, id);
    const error = body.error?.message ?? null;
    try {
      // DESTINY answers a second post 422 (docs/destiny.md), a repeated one too.
      if (error !== null) await failLeasedBatch(ctx, batch, { leaseToken: batch.lease_token, message: error, retryable: false, repeat: 'refuse' });
      else await startResultsImport(ctx, batch, { leaseToken: batch.lease_token, repeat: 'refuse' });
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 409) throw errors.destinyUnprocessable(err.code, `Cannot process results: ${err.message}`);
      throw err;
    }
    return { batch, error };
  }

  /** Answers a poll with its new batch, the reference file written first or, when it may, just after (as batches/routes.ts does). */
  async function answerWithBatch(reply: FastifyReply, robot: RobotRow, leased: LeasedBatch) {
    const options = { protocol: robot.protocol };
    if (!itemsFileCanFollowAnswer(ctx, leased)) return reply.status(200).send(await robotBatch(ctx, await writeItemsFile(ctx, leased, robot.needs, options)));
    const written = writeItemsFile(ctx, leased, robot.needs, { ...options, afterAnswer: true }).catch((err) =>
      ctx.log.error({ err, batch_id: leased.id }, 'could not write the reference file of a batch already answered (its lease is undone, or lapses if that failed too)'),
    );
    reply.status(200).send(await robotBatch(ctx, leased));
    await written;
    return reply;
  }

  app.post('/v1/robot-enhancement-batches/', {
    config: robotAccess,
    schema: {
      tags,
      summary: 'Poll: 200 with a batch of references under a lease, or 204 when there is none',
      querystring: PollQuery,
      response: { 200: destiny.RobotEnhancementBatch, 204: { type: 'null', description: 'No work' } },
    },
    handler: async (request, reply) => {
      const robot = signingRobotOf(request);
      const q = request.query;
      if (q.robot_id.toLowerCase() !== robot.id) throw errors.forbidden(`robot_id must be the signing robot's id (${robot.id}): a robot polls for its own batches`);
      if (robot.protocol !== 'destiny') throw errors.of('refinery_robot', "this robot speaks Refinery's protocol: it leases with POST /v1/batches/lease (robots registered through POST /v1/robots/ speak DESTINY's)");
      if (robot.delivery.mode === 'push') throw errors.of('push_robot', `this robot's batches are pushed to its base_url (${robot.delivery.url}); it does not poll (docs/destiny.md)`);
      const leaseMs = leaseMsFrom(q.lease, robot.lease_ms);
      if (!robot.active) return reply.status(204).send();
      const leased = await leaseNewBatch(ctx, robot, { limit: Math.min(q.limit ?? destinyMaxBatchSize, destinyMaxBatchSize, robot.max_batch_size), leaseMs });
      if (!leased) return reply.status(204).send();
      return answerWithBatch(reply, robot, leased);
    },
  });

  app.get('/v1/robot-enhancement-batches/:id/', {
    config: robotAccess,
    schema: { tags, summary: 'A batch, its URLs signed afresh (with its validation result file once imported)', params: IdParams, response: { 200: destiny.RobotEnhancementBatch } },
    handler: async (request) => robotBatch(ctx, await ownBatch(request, request.params.id)),
  });

  app.patch('/v1/robot-enhancement-batches/:id/renew-lease/', {
    config: robotAccess,
    schema: {
      tags,
      summary: 'Extend the lease: 200 with the new expiry as plain text; 409 once it has lapsed or the results are in',
      params: IdParams,
      querystring: LeaseQuery,
      response: { 200: { description: 'The new expiry (ISO 8601)', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
    handler: async (request, reply) => {
      const robot = signingRobotOf(request);
      // DESTINY answers a renewal of a batch it does not know with 422.
      const batch = await ownBatch(request, request.params.id, (id) => errors.destinyUnprocessable('not_found', `no batch ${id} of this robot`));
      const leaseMs = leaseMsFrom(request.query.lease, robot.lease_ms);
      const expiresAt = await renewBatchLeaseIfLeased(ctx.db, { id: batch.id, robotId: robot.id, leaseMs, now: ctx.clock.now() });
      if (!expiresAt) throw errors.of('lease_expired', 'This batch has no pending enhancements. They may have already expired or been completed.');
      // Python's datetime.isoformat(): microseconds and +00:00.
      return reply.type('text/plain; charset=utf-8').send(expiresAt.toISOString().replace('Z', '000+00:00'));
    },
  });

  app.post('/v1/robot-enhancement-batches/:id/results/', {
    config: robotAccess,
    schema: {
      tags,
      summary: 'Hand in the batch after uploading its result file (202, imported after the answer), or fail it with `error` (200); late or twice: 422',
      params: IdParams,
      body: destiny.RobotEnhancementBatchResult,
      response: { 200: destiny.RobotEnhancementBatchRead, 202: destiny.RobotEnhancementBatchRead },
    },
    handler: async (request, reply) => {
      const { batch, error } = await handIn(request, request.params.id, request.body);
      return reply.status(error === null ? 202 : 200).send(await batchRead(ctx, batch, error));
    },
  });

  // The push era (docs/destiny.md): a pushed robot's RobotResult, posted after it answered the delivery 202.
  for (const path of ['/v1/enhancement-requests/:id/result/', '/v1/enhancement-requests/:id/results/']) {
    app.post(path, {
      config: robotAccess,
      schema: {
        tags,
        summary: `A pushed batch's RobotResult (request_id: the RobotRequest's id): 202 and imported, or failed with \`error\` (200)${path.endsWith('results/') ? "; destiny_sdk's send_robot_result" : ''}`,
        params: IdParams,
        body: destiny.RobotResult,
        response: { 200: destiny.EnhancementRequestRead, 202: destiny.EnhancementRequestRead },
      },
      handler: async (request, reply) => {
        const { batch, error } = await handIn(request, request.params.id, request.body);
        const read: destiny.EnhancementRequestRead = {
          id: batch.id,
          robot_id: batch.robot_id,
          reference_ids: [],
          source: null,
          request_status: error === null ? 'importing' : 'failed',
          reference_data_url: null,
          result_storage_url: null,
          validation_result_url: null,
          error,
        };
        return reply.status(error === null ? 202 : 200).send(read);
      },
    });
  }

  const visibleRequest = (request: FastifyRequest, id: string) => visibleRequestOf(ctx, request, id, 'enhancement request');

  // Creation parses its body as it streams in (requestBody.ts), as POST /v1/requests does.
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', (request: FastifyRequest, payload: IncomingMessage) =>
      parseRequestBody(payload, requestBodyLimit, request.headers['content-length'], 'reference_ids').catch((err: unknown) => {
        throw err instanceof AppError && err.statusCode === 400 ? errors.destinyUnprocessable(err.code, err.message) : err;
      }),
    );
    scope.post('/v1/enhancement-requests/', {
      config: { access: 'requester' },
      // reference_ids is checked and packed by the parser; the schema still documents it.
      validatorCompiler: (route) => validatorCompiler(route.httpPart === 'body' ? { ...route, schema: EnhancementRequestInPacked } : route),
      schema: {
        tags,
        summary: 'Ask a robot to enhance references: 202 at once; unknown or repeated reference ids: 422',
        body: destiny.EnhancementRequestIn,
        response: { 202: destiny.EnhancementRequestRead },
      },
      handler: async (request, reply) => {
        const key = keyOf(request);
        const body = parsedBody<destiny.EnhancementRequestIn & { reference_ids: RecordIdList }>(request);
        const check = await findMissingRecords(ctx.db, { ids: body.reference_ids.packed, type: 'reference', limit: 100 });
        if (check.repeated > 0) throw errors.of('repeated_reference_ids', `reference_ids holds ${check.repeated} id(s) more than once; send each reference once`);
        if (check.missing.length > 0) throw errors.of('unknown_references', `Reference with id [${check.missing.join(', ')}] does not exist.`);
        const { request: row } = await createRequest(ctx, { body: { robot_id: body.robot_id, record_ids: body.reference_ids }, requestedBy: key.keyId, idempotencyKey: null });
        if (body.source) await setRequestSource(ctx.db, { id: row.id, source: body.source });
        const json = enhancementRequestJson({ ...row, source: body.source ?? null }, packedIds(body.reference_ids));
        return reply.status(202).type('application/json; charset=utf-8').header('location', `/v1/enhancement-requests/${row.id}/`).send(Readable.from(json));
      },
    });
  });

  app.post('/v1/enhancement-requests/search/', {
    config: { access: 'requester' },
    schema: {
      tags,
      summary:
        'Ask a robot to enhance every reference a Lucene-style query matches: 202 `SearchEnhancementRequestRead`; with `dry_run=true`, 200 `SearchResultTotal` and nothing created. ' +
        'A query that cannot be run: 400 `invalid_query`, saying where',
      querystring: Type.Object({ dry_run: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false }),
      body: destiny.SearchEnhancementRequestIn,
      response: { 200: destiny.SearchResultTotal, 202: destiny.SearchEnhancementRequestRead },
    },
    handler: async (request, reply) => {
      const key = keyOf(request);
      const body = request.body;
      const { dry_run } = request.query;
      // DESTINY searches references, by their own fields (docs/destiny.md).
      const filter = { and: [{ type: 'reference' }, filterOf(ctx, { query: body.search_query }, 'destiny')] };
      await refuseEncryptedContent(ctx.db, filter);
      if (dry_run) {
        const total = await countMatches(ctx, filter);
        return reply.status(200).send({ count: total.count, is_lower_bound: total.lower_bound ?? false });
      }
      const { request: row } = await createRequestByQuery(ctx, { body: { robot_id: body.robot_id, query: body.search_query, filter }, requestedBy: key.keyId, idempotencyKey: null });
      if (body.source) await setRequestSource(ctx.db, { id: row.id, source: body.source });
      const backlog = await countBacklogIds(ctx.db, { requestId: row.id });
      return reply
        .status(202)
        .header('location', `/v1/enhancement-requests/search/${row.id}/`)
        .send(searchEnhancementRequestRead({ ...row, source: body.source ?? null }, backlog));
    },
  });

  app.get('/v1/enhancement-requests/search/:id/', {
    config: { access: 'requester' },
    schema: {
      tags,
      summary: "A search-based enhancement request: its search (the writing of its items) and its enhancements' progress",
      params: IdParams,
      response: { 200: destiny.SearchEnhancementRequestRead },
    },
    handler: async (request) => {
      const row = await visibleRequest(request, request.params.id);
      if (row.filter === null) throw errors.notFound('search enhancement request');
      return searchEnhancementRequestRead(row, await countBacklogIds(ctx.db, { requestId: row.id }));
    },
  });

  app.get('/v1/enhancement-requests/:id/', {
    config: { access: 'requester' },
    schema: {
      tags,
      summary: "An enhancement request: request_status as DESTINY derives it from the items, and every reference id",
      params: IdParams,
      response: { 200: destiny.EnhancementRequestRead },
    },
    handler: async (request, reply) => {
      const row = await visibleRequest(request, request.params.id);
      // Ids still in a large request's backlog are written as items first, so each is listed once.
      await writeBacklogOf(ctx, row.id);
      const current = (await getRequest(ctx.db, { id: row.id }))!;
      return reply.type('application/json; charset=utf-8').send(Readable.from(enhancementRequestJson(current, itemIds(ctx, row.id))));
    },
  });

  app.get('/v1/references/:id/', {
    config: { access: 'requester' },
    schema: {
      tags,
      summary: 'A reference (a record of type `reference`) as DESTINY\'s Reference, with the enhancements DESTINY robots wrote',
      params: IdParams,
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const record = await getRecordWithEnhancements(ctx.db, { id });
      if (!record || record.type !== 'reference') throw errors.notFound('reference');
      const enhancements = (record.enhancements as Array<destiny.Enhancement & { record_id: string; source: string | null }>)
        .filter((e) => e.source !== null)
        .map((e) => ({ id: e.id, reference_id: e.record_id, source: e.source, visibility: e.visibility, robot_version: e.robot_version, derived_from: e.derived_from, content: e.content, created_at: e.created_at }));
      const reference: destiny.Reference = { visibility: record.visibility, id: record.id, identifiers: record.identifiers.map(toDestinyIdentifier), enhancements };
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(reference));
    },
  });

  // ── Robots registered the DESTINY way ──────────────────────────────────────
  app.post('/v1/robots/', {
    config: { access: 'admin' },
    schema: { tags, summary: "Register a robot that speaks DESTINY's protocol; its client_secret is shown once", body: destiny.RobotIn, response: { 201: destiny.ProvisionedRobot } },
    handler: async (request, reply) => {
      const body = request.body;
      const id = newDestinyRobotId();
      const secret = newDestinySecret();
      const now = ctx.clock.now();
      const inserted = await insertRobot(ctx.db, {
        id,
        name: body.name,
        owner: body.owner,
        description: body.description,
        ...refineryFields(body),
        maxBatchSize: destinyMaxBatchSize,
        leaseMs: parseDuration(robotDefaults.lease)!,
        maxAttempts: robotDefaults.maxAttempts,
        protocol: 'destiny',
        secretId: newId(),
        secret: sealRobotSecret(ctx.keys, id, secret),
        now,
      });
      if (!inserted) throw errors.of('name_taken', `a robot named "${body.name}" exists already`);
      return reply.status(201).send({ ...destinyRobot((await getRobot(ctx.db, { id, now }))!), client_secret: secret });
    },
  });

  app.get('/v1/robots/', {
    config: { access: 'admin' },
    schema: { tags, summary: 'Every robot, as DESTINY lists them', response: { 200: Type.Array(destiny.Robot) } },
    handler: async () => {
      const all: destiny.Robot[] = [];
      for (let afterId: string | null = null; ; ) {
        const rows = await listRobots(ctx.db, { afterId, limit: 1000, now: ctx.clock.now() });
        all.push(...rows.map(destinyRobot));
        if (rows.length < 1000) return all;
        afterId = rows[rows.length - 1].id;
      }
    },
  });

  app.get('/v1/robots/:id/', {
    config: { access: 'admin' },
    schema: { tags, summary: 'A robot, as DESTINY shows it', params: IdParams, response: { 200: destiny.Robot } },
    handler: async (request) => {
      const row = await getRobot(ctx.db, { id: request.params.id, now: ctx.clock.now() });
      if (!row) throw errors.notFound('robot');
      return destinyRobot(row);
    },
  });

  app.put('/v1/robots/:id/', {
    config: { access: 'admin' },
    schema: { tags, summary: 'Replace a DESTINY robot\'s name, description, owner, entitlements and base_url', params: IdParams, body: destiny.RobotIn, response: { 200: destiny.Robot } },
    handler: async (request) => {
      const { id } = request.params;
      const body = request.body;
      const now = ctx.clock.now();
      const row = await getRobot(ctx.db, { id, now });
      if (!row) throw errors.notFound('robot');
      if (row.protocol !== 'destiny') throw errors.of('refinery_robot', "this robot speaks Refinery's protocol: change it with PATCH /v1/robots/{id}");
      const { accepts: _accepts, ...fields } = refineryFields(body);
      const outcome = await updateRobot(ctx.db, { id, now, changes: { name: body.name, owner: body.owner, description: body.description, ...fields } });
      ctx.recentRobots.forget(id);
      if (outcome === 'missing') throw errors.notFound('robot');
      if (outcome === 'name_taken') throw errors.of('name_taken', `a robot named "${body.name}" exists already`);
      return destinyRobot((await getRobot(ctx.db, { id, now }))!);
    },
  });

  app.post('/v1/robots/:id/secret/', {
    config: { access: 'admin' },
    schema: {
      tags,
      summary: `Issue a new client_secret; the previous one keeps working for ${robotDefaults.secretGrace} (Refinery's grace period)`,
      params: IdParams,
      response: { 201: destiny.ProvisionedRobot },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const secret = newDestinySecret();
      const now = ctx.clock.now();
      const rotated = await rotateRobotSecret(ctx.db, { robotId: id, secretId: newId(), secret: sealRobotSecret(ctx.keys, id, secret), graceMs: parseDuration(robotDefaults.secretGrace)!, now });
      if (!rotated) throw errors.notFound('robot');
      ctx.recentRobots.forget(id);
      return reply.status(201).send({ ...destinyRobot((await getRobot(ctx.db, { id, now }))!), client_secret: secret });
    },
  });
});
