import Type from 'typebox';
import { formatDuration, IdParams, Page, PageQuery, parseDuration, ProvisionedRobot, robotDefaults, RobotIn, RobotOut, RobotPatch, RotateSecretBody } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { checkUuidCursor, decodeCursor, page, routePlugin, strictAjv } from '../http/index.ts';
import { newId, newSecret } from '../ids.ts';
import { getRobot } from './queries/getRobot.ts';
import { insertRobot } from './queries/insertRobot.ts';
import { listRobots } from './queries/listRobots.ts';
import type { RobotRow } from './queries/robotRow.ts';
import { rotateRobotSecret } from './queries/rotateRobotSecret.ts';
import { sealRobotSecret } from '../keys/index.ts';
import { updateRobot } from './queries/updateRobot.ts';

export function robotOut(row: RobotRow) {
  const { lease_ms, ...rest } = row;
  return { ...rest, lease: formatDuration(lease_ms) };
}

const schemaChecker = strictAjv();

/** Refuses `produces` whose JSON Schemas Ajv cannot compile, so results are never validated against nonsense. */
function checkProduces(produces: RobotIn['produces'] | undefined): void {
  for (const p of produces ?? []) {
    if (!p.schema) continue;
    try {
      schemaChecker.compile(p.schema);
    } catch (err) {
      throw errors.of('invalid_schema', `the JSON Schema for "${p.type}" does not compile: ${(err as Error).message}`);
    }
  }
  const types = (produces ?? []).map((p) => p.type);
  if (new Set(types).size !== types.length) throw errors.of('duplicate_type', 'produces names the same enhancement type twice');
}

function leaseMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === null || ms < 1000 || ms > 24 * 3600_000) throw errors.invalidRequest('lease must be between 1 second and 24 hours');
  return ms;
}

export const robotRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'db' | 'keys' | 'recentRobots'> }>('robots', async (app, { ctx }) => {
  app.post('/v1/robots', {
    config: { access: 'admin' },
    schema: { tags: ['robots'], summary: 'Register a robot; its secret is shown once', body: RobotIn, response: { 201: ProvisionedRobot } },
    handler: async (request, reply) => {
      const body = request.body;
      checkProduces(body.produces);
      const id = newId();
      const secret = newSecret('rs');
      const now = ctx.clock.now();
      const inserted = await insertRobot(ctx.db, {
        id,
        name: body.name,
        owner: body.owner ?? null,
        description: body.description ?? null,
        accepts: body.accepts,
        produces: body.produces,
        needs: body.needs ?? [],
        delivery: body.delivery ?? { mode: 'pull' },
        maxBatchSize: body.max_batch_size ?? robotDefaults.maxBatchSize,
        leaseMs: leaseMs(body.lease) ?? parseDuration(robotDefaults.lease)!,
        maxAttempts: body.max_attempts ?? robotDefaults.maxAttempts,
        secretId: newId(),
        secret: sealRobotSecret(ctx.keys, id, secret),
        now,
      });
      if (!inserted) throw errors.of('name_taken', `a robot named "${body.name}" exists already`);
      const row = (await getRobot(ctx.db, { id, now }))!;
      return reply.status(201).send({ ...robotOut(row), secret });
    },
  });

  app.get('/v1/robots', {
    config: { access: 'admin' },
    schema: { tags: ['robots'], summary: 'List robots', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: Page(RobotOut) } },
    handler: async (request) => {
      const q = request.query;
      const limit = q.limit ?? 100;
      const rows = await listRobots(ctx.db, { afterId: checkUuidCursor(decodeCursor(q.cursor)), limit: limit + 1, now: ctx.clock.now() });
      const p = page(rows, limit, (r) => r.id);
      return { data: p.data.map(robotOut), next_cursor: p.next_cursor };
    },
  });

  app.get('/v1/robots/:id', {
    config: { access: 'admin' },
    schema: { tags: ['robots'], summary: 'Read a robot', params: IdParams, response: { 200: RobotOut } },
    handler: async (request) => {
      const { id } = request.params;
      const row = await getRobot(ctx.db, { id, now: ctx.clock.now() });
      if (!row) throw errors.notFound('robot');
      return robotOut(row);
    },
  });

  app.patch('/v1/robots/:id', {
    config: { access: 'admin' },
    schema: { tags: ['robots'], summary: 'Change a robot; `active: false` pauses it', params: IdParams, body: RobotPatch, response: { 200: RobotOut } },
    handler: async (request) => {
      const { id } = request.params;
      const body = request.body;
      checkProduces(body.produces);
      const now = ctx.clock.now();
      const outcome = await updateRobot(ctx.db, {
        id,
        now,
        changes: {
          name: body.name,
          owner: body.owner,
          description: body.description,
          accepts: body.accepts,
          produces: body.produces,
          needs: body.needs,
          delivery: body.delivery,
          maxBatchSize: body.max_batch_size,
          leaseMs: leaseMs(body.lease),
          maxAttempts: body.max_attempts,
          active: body.active,
        },
      });
      if (outcome === 'missing') throw errors.notFound('robot');
      ctx.recentRobots.forget(id);
      if (outcome === 'name_taken') throw errors.of('name_taken', `a robot named "${body.name}" exists already`);
      return robotOut((await getRobot(ctx.db, { id, now }))!);
    },
  });

  app.post('/v1/robots/:id/secrets', {
    config: { access: 'admin' },
    // The body is optional: none at all means the default grace, not "body must be object".
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags: ['robots'],
      summary: 'Issue a new secret; the previous one keeps working for the grace period (default PT1H)',
      params: IdParams,
      body: Type.Optional(RotateSecretBody),
      response: { 201: ProvisionedRobot },
    },
    handler: async (request, reply) => {
      const { id } = request.params;
      const graceText = request.body?.grace ?? robotDefaults.secretGrace;
      const graceMs = parseDuration(graceText);
      if (graceMs === null || graceMs > 30 * 24 * 3600_000) throw errors.invalidRequest('grace must be a duration of at most 30 days');
      const secret = newSecret('rs');
      const now = ctx.clock.now();
      const rotated = await rotateRobotSecret(ctx.db, { robotId: id, secretId: newId(), secret: sealRobotSecret(ctx.keys, id, secret), graceMs, now });
      if (!rotated) throw errors.notFound('robot');
      ctx.recentRobots.forget(id);
      return reply.status(201).send({ ...robotOut((await getRobot(ctx.db, { id, now }))!), secret });
    },
  });
});
