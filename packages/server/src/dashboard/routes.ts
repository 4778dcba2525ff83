import { ErrorGroupList, IdParams, Overview, RobotStatsPage, RobotStatsQuery, Throughput, ThroughputQuery } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { checkUuidCursor, decodeCursor, page, routePlugin } from '../http/index.ts';
import { priorityOf, visibleRequestOf } from '../requests/index.ts';
import { listErrorGroups } from './queries/listErrorGroups.ts';
import { listRobotStats } from './queries/listRobotStats.ts';
import { failingWebhooks, finishedPerMinute, queueDepth } from './queries/overview.ts';
import { requestEventSpan, requestThroughput } from './queries/requestThroughput.ts';

const hourMs = 3_600_000;
/** A request's throughput comes in about this many buckets unless the caller picks their width. */
const throughputBuckets = 100;

/** The API routes the dashboard reads beside the rest (docs/dashboard.md). */
export const dashboardRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'db'> }>('dashboard', async (app, { ctx }) => {
  app.get('/v1/requests/:id/errors', {
    config: { access: 'requester' },
    schema: { tags: ['requests'], summary: "The request's finished items that carry an error, grouped by code and status, most first", params: IdParams, response: { 200: ErrorGroupList } },
    handler: async (request) => {
      const row = await visibleRequestOf(ctx, request, request.params.id);
      return { data: await listErrorGroups(ctx.db, { requestId: row.id }) };
    },
  });

  app.get('/v1/requests/:id/throughput', {
    config: { access: 'requester' },
    schema: {
      tags: ['requests'],
      summary: 'Items completed, failed and discarded per bucket of time, from the request’s progress events',
      params: IdParams,
      querystring: ThroughputQuery,
      response: { 200: Throughput },
    },
    handler: async (request) => {
      const row = await visibleRequestOf(ctx, request, request.params.id);
      const q = request.query;
      let bucketSeconds = q.bucket_seconds;
      if (!bucketSeconds) {
        const span = await requestEventSpan(ctx.db, { requestId: row.id });
        const seconds = span.first && span.last ? (span.last.getTime() - span.first.getTime()) / 1000 : 0;
        bucketSeconds = Math.max(1, Math.ceil(seconds / throughputBuckets));
      }
      return { bucket_seconds: bucketSeconds, data: await requestThroughput(ctx.db, { requestId: row.id, bucketSeconds }) };
    },
  });

  app.get('/v1/robots/stats', {
    config: { access: 'admin' },
    schema: {
      tags: ['robots'],
      summary: 'Each robot’s state and its last hour: leases held, items per minute, error rate, lease expiries, last lease or hand-in',
      querystring: RobotStatsQuery,
      response: { 200: RobotStatsPage },
    },
    handler: async (request) => {
      const q = request.query;
      const limit = q.limit ?? 100;
      const rows = await listRobotStats(ctx.db, { afterId: checkUuidCursor(decodeCursor(q.cursor)), limit: limit + 1, since: new Date(ctx.clock.now().getTime() - hourMs) });
      const p = page(rows, limit, (r) => r.id);
      return {
        data: p.data.map(({ items_finished, items_failed, lease_expiries, ...r }) => ({
          ...r,
          items_per_minute: items_finished / 60,
          error_rate: items_finished > 0 ? items_failed / items_finished : null,
          lease_expiries_last_hour: lease_expiries,
        })),
        next_cursor: p.next_cursor,
      };
    },
  });

  app.get('/v1/overview', {
    config: { access: 'admin' },
    schema: {
      tags: ['operations'],
      summary: 'Queue depth by robot and priority, the oldest pending item’s age, items finished per second over the last hour, failing webhook deliveries',
      response: { 200: Overview },
    },
    handler: async () => {
      const now = ctx.clock.now();
      const [queue, finished, webhooks] = await Promise.all([queueDepth(ctx.db), finishedPerMinute(ctx.db, { since: new Date(now.getTime() - hourMs) }), failingWebhooks(ctx.db)]);
      const oldest = queue.reduce<number | null>((min, q) => (min === null || q.oldest_available_at.getTime() < min ? q.oldest_available_at.getTime() : min), null);
      return {
        queue: queue.map((q) => ({ ...q, priority: priorityOf(q.priority) })),
        oldest_pending_age_seconds: oldest === null ? null : Math.max(0, (now.getTime() - oldest) / 1000),
        finished_last_hour: finished.map((f) => ({ at: f.at, completed_per_second: f.completed / 60, failed_per_second: f.failed / 60 })),
        webhooks,
      };
    },
  });
});
