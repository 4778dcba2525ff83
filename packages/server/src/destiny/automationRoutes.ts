import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { destiny, IdParams } from '@refinery/protocol';
import { keyOf } from '../auth/index.ts';
import { type AutomationRow, listAutomations, saveAutomation, visibleAutomationOf } from '../automations/index.ts';
import type { Context } from '../context.ts';
import { routePlugin } from '../http/index.ts';
import { fromPercolator } from './automations.ts';
import { answerInDestinyCodes } from './routes.ts';

const tags = ['destiny'];
const PercolatorQuery = Type.Record(Type.String(), Type.Unknown(), { description: "An Elasticsearch percolator query over `changeset` and `reference`; the forms docs/destiny.md lists are mapped, others are 422 `unsupported_query`." });
const RobotAutomationIn = Type.Object({ robot_id: destiny.Uuid, query: PercolatorQuery }, { additionalProperties: false });
const RobotAutomation = Type.Object({ id: destiny.Uuid, robot_id: destiny.Uuid, query: PercolatorQuery });
/** DESTINY lists automations unpaged; this many at most. */
const listLimit = 1000;

const robotAutomation = (row: AutomationRow) => ({ id: row.id, robot_id: row.robot_id, query: row.destiny_query ?? {} });

/**
 * DESTINY's robot automations (`/v1/enhancement-requests/automations/`) as Refinery's automations
 * (docs/automations.md, docs/destiny.md): the percolator query becomes a trigger and a filter.
 */
export const destinyAutomationRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'db'> }>('destiny-automations', async (app, { ctx }) => {
  answerInDestinyCodes(app);

  const visible = (request: FastifyRequest, id: string) => visibleAutomationOf(ctx, request, id, 'robot automation');

  const spec = (body: { robot_id: string; query: Record<string, unknown> }) => ({ robot_id: body.robot_id, ...fromPercolator(body.query), query: null, active: true, destinyQuery: body.query });

  app.post('/v1/enhancement-requests/automations/', {
    config: { access: 'requester' },
    schema: { tags, summary: 'Add a robot automation (a Refinery automation from its percolator query): 201', body: RobotAutomationIn, response: { 201: RobotAutomation } },
    handler: async (request, reply) => {
      const row = await saveAutomation(ctx, spec(request.body), keyOf(request).keyId);
      return reply.status(201).send(robotAutomation(row));
    },
  });

  app.get('/v1/enhancement-requests/automations/', {
    config: { access: 'requester' },
    schema: { tags, summary: `The robot automations (a requester sees its own; at most ${listLimit})`, response: { 200: Type.Array(RobotAutomation) } },
    handler: async (request) => {
      const key = keyOf(request);
      const rows = await listAutomations(ctx.db, { createdBy: key.role === 'admin' ? null : key.keyId, robotId: null, afterId: null, limit: listLimit });
      return rows.map(robotAutomation);
    },
  });

  app.put('/v1/enhancement-requests/automations/:id/', {
    config: { access: 'requester' },
    schema: { tags, summary: 'Replace a robot automation: 201 as DESTINY answers', params: IdParams, body: RobotAutomationIn, response: { 201: RobotAutomation } },
    handler: async (request, reply) => {
      const current = await visible(request, request.params.id);
      const row = await saveAutomation(ctx, spec(request.body), current.created_by, current);
      return reply.status(201).send(robotAutomation(row));
    },
  });
});
