import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { AutomationIn, AutomationOut, AutomationPage, AutomationPatch, IdParams, Json, ListAutomationsQuery } from '@refinery/protocol';
import { keyOf } from '../auth/index.ts';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { checkUuidCursor, decodeCursor, page, routePlugin, validatorCompiler } from '../http/index.ts';
import { automationOut, automationSpec, automationWithTotals, saveAutomation, setActive, visibleAutomationOf } from './automations.ts';
import { deleteAutomation } from './queries/deleteAutomation.ts';
import { listAutomations } from './queries/listAutomations.ts';

/** The body as ajv checks it: the filter is checked by checkFilter, which says where each mistake is. */
const bodyChecked = Type.Object({ ...AutomationIn.properties, filter: Type.Optional(Json) }, { additionalProperties: false });

export const automationRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'config' | 'db'> }>('automations', async (app, { ctx }) => {
  const visibleAutomation = (request: FastifyRequest, id: string) => visibleAutomationOf(ctx, request, id);

  app.post('/v1/automations', {
    config: { access: 'requester' },
    validatorCompiler: (route) => validatorCompiler(route.httpPart === 'body' ? { ...route, schema: bodyChecked } : route),
    schema: {
      tags: ['automations'],
      summary: 'Add an automation: records an import touches that fire its trigger and match its query become items of a request for its robot',
      description:
        'A bad query: 400 `invalid_query` with where. An unknown or paused robot: 422 `unknown_robot`, `robot_paused`. One that would close a cycle of automations: ' +
        '422 `automation_cycle` naming it. See docs/automations.md.',
      body: AutomationIn,
      response: { 201: AutomationOut },
    },
    handler: async (request, reply) => {
      const row = await saveAutomation(ctx, automationSpec(ctx, request.body), keyOf(request).keyId);
      return reply.status(201).header('location', `/v1/automations/${row.id}`).send(await automationWithTotals(ctx, row));
    },
  });

  app.get('/v1/automations', {
    config: { access: 'requester' },
    schema: { tags: ['automations'], summary: 'List automations (a requester sees its own)', querystring: ListAutomationsQuery, response: { 200: AutomationPage } },
    handler: async (request) => {
      const key = keyOf(request);
      const q = request.query;
      const limit = q.limit ?? 100;
      const rows = await listAutomations(ctx.db, {
        createdBy: key.role === 'admin' ? null : key.keyId,
        robotId: q.robot_id ?? null,
        afterId: checkUuidCursor(decodeCursor(q.cursor)),
        limit: limit + 1,
      });
      const p = page(rows, limit, (r) => r.id);
      return { data: p.data.map(automationOut), next_cursor: p.next_cursor };
    },
  });

  app.get('/v1/automations/:id', {
    config: { access: 'requester' },
    schema: { tags: ['automations'], summary: 'The automation and what it triggered: requests, items, matches waiting, the last error', params: IdParams, response: { 200: AutomationOut } },
    handler: async (request) => automationWithTotals(ctx, await visibleAutomation(request, request.params.id)),
  });

  app.patch('/v1/automations/:id', {
    config: { access: 'requester' },
    schema: {
      tags: ['automations'],
      summary: 'Pause (`active: false`) or resume (`active: true`); resuming checks the robot and for a cycle as adding does',
      params: IdParams,
      body: AutomationPatch,
      response: { 200: AutomationOut },
    },
    handler: async (request) => {
      const row = await visibleAutomation(request, request.params.id);
      const { active } = request.body;
      return automationWithTotals(ctx, active === undefined ? row : await setActive(ctx, row, active));
    },
  });

  app.delete('/v1/automations/:id', {
    config: { access: 'requester' },
    schema: { tags: ['automations'], summary: 'Delete an automation; the requests it made stay', params: IdParams, response: { 204: Type.Null() } },
    handler: async (request, reply) => {
      const row = await visibleAutomation(request, request.params.id);
      if (!(await deleteAutomation(ctx.db, { id: row.id }))) throw errors.notFound('automation');
      return reply.status(204).send();
    },
  });
});
