import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ItemMove } from '../batches/queries/itemMoves.ts';
import type { Queryable } from '../db/db.ts';
import { requestIsOpen } from '../requests/open.ts';

/**
 * Refinery's metrics (docs/metrics.md). The counters count in this process, from the results of
 * the statements that did the work: never a statement or a step per item. One registry per
 * process (per app in tests).
 */
export function createMetrics(db: Queryable) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });

  const metrics = {
    registry,
    httpDuration: new Histogram({
      name: 'refinery_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    // Queue depth, read from the database when scraped: the same in every process.
    items: new Gauge({
      name: 'refinery_items',
      help: 'Items of open requests by status',
      labelNames: ['status'],
      registers,
      async collect() {
        const { rows } = await db.query<{ pending: number; leased: number; importing: number }>(
          `select coalesce(sum(n_pending), 0)::int as pending, coalesce(sum(n_leased), 0)::int as leased, coalesce(sum(n_importing), 0)::int as importing from requests where ${requestIsOpen()}`,
        );
        for (const [status, n] of Object.entries(rows[0])) this.set({ status }, n);
      },
    }),
    itemsLeased: counter('refinery_items_leased_total', 'Items leased to robots (pulled, handed to a waiting long poll, or pushed)', ['robot']),
    batchesLeased: counter('refinery_batches_leased_total', 'Batches leased to robots', ['robot']),
    itemsFinished: counter('refinery_items_finished_total', "Items a robot's batches brought to a final state: completed, discarded (an identical enhancement was stored already) or failed", ['robot', 'status']),
    itemsRetried: counter('refinery_items_retried_total', 'Items given back to pending for another attempt: a lapsed lease, a retryable robot error, no answer, a failed push', ['robot']),
    leaseExpiries: counter('refinery_lease_expiries_total', 'Batches whose lease lapsed before their results were posted', ['robot']),
    batchesImported: counter('refinery_batches_imported_total', "Batches whose results were validated and imported", ['robot']),
    pushDeliveries: counter('refinery_push_deliveries_total', 'Batches POSTed to push robots, by how the delivery ended (imported, accepted, deferred, failed, superseded, interrupted)', ['robot', 'outcome']),
    recordsImported: counter('refinery_records_imported_total', 'Records upserted through POST /v1/records: created or updated', ['outcome']),
    requestsCreated: counter('refinery_requests_created_total', 'Requests created'),
    requestsFinished: counter('refinery_requests_finished_total', 'Requests that reached a final state, by that state', ['status']),
    webhookDeliveries: counter('refinery_webhook_deliveries_total', 'Webhook POSTs to callback URLs: delivered (2xx) or failed (retried later)', ['outcome']),

    /** A batch of `items` leased to `robot`. */
    leased(robot: string, items: number): void {
      metrics.batchesLeased.inc({ robot });
      metrics.itemsLeased.inc({ robot }, items);
    },
    /** Items a statement moved: to a final state, or back to pending for a retry. */
    itemsMoved(moves: readonly ItemMove[]): void {
      for (const { robot_id: robot, status, n } of moves) {
        if (status === 'pending') metrics.itemsRetried.inc({ robot }, n);
        else metrics.itemsFinished.inc({ robot, status }, n);
      }
    },
  };
  return metrics;
}
export type Metrics = ReturnType<typeof createMetrics>;
