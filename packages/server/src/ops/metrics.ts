import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { priorities } from '@refinery/protocol';
import type { ItemMove } from '../batches/index.ts';
import type { Db } from '../db/index.ts';
import { readQueueGauges } from './queries/readQueueGauges.ts';

/**
 * Refinery's metrics (docs/metrics.md). The counters count in this process, from the results of
 * the statements that did the work: never a statement or a step per item. One registry per
 * process (per app in tests).
 */
export function createMetrics(db: Db) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
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
    // Read from the database at each scrape, by read() below: the same in every process.
    items: gauge('refinery_items', 'Items of open requests by status', ['status']),
    itemsPending: gauge('refinery_items_pending', 'Pending items by robot and priority (a large request counts the items it has yet to write)', ['robot', 'priority']),
    oldestPending: gauge('refinery_oldest_pending_item_age_seconds', "Per robot, how long its longest-waiting pending item has been available to lease (0: none)", ['robot']),
    webhooksPending: gauge('refinery_webhook_deliveries_pending', 'Webhook deliveries not delivered yet (waiting for their turn or a retry)'),
    // PostgreSQL only: this process's connection pools.
    poolConnections: gauge('refinery_db_pool_connections', "Connections of this process's PostgreSQL pools: in use or idle", ['pool', 'state']),
    poolMax: gauge('refinery_db_pool_max_connections', "Size of this process's PostgreSQL pools", ['pool']),
    poolWaiting: gauge('refinery_db_pool_waiting', "Callers of this process waiting for a PostgreSQL connection", ['pool']),
    batchImportDuration: new Histogram({
      name: 'refinery_batch_import_duration_seconds',
      help: "Imports of a batch's results, from the start of validation to its items settled",
      labelNames: ['robot'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    pushFailures: counter('refinery_push_delivery_failures_total', "Failed push deliveries by the robot's HTTP status (none: no answer, a time-out or a broken connection)", ['robot', 'status']),
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
    maintenanceRuns: counter('refinery_maintenance_runs_total', 'Passes of each maintenance service (docs/operations.md), by how they ended (ok, failed)', ['service', 'outcome']),
    maintenanceTouched: counter('refinery_maintenance_touched_total', "What each maintenance service's passes touched: batches, requests, imports, slices, manifests, nonces, records, files, deliveries", ['service']),
    maintenanceDuration: new Histogram({
      name: 'refinery_maintenance_duration_seconds',
      help: 'How long each maintenance pass took',
      labelNames: ['service'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60],
      registers,
    }),
    webhookDeliveries: counter('refinery_webhook_deliveries_total', 'Webhook POSTs to callback URLs: delivered (2xx) or failed (retried later)', ['outcome']),

    /** Sets the gauges read from the database and the pools, before the registry is read: one statement. */
    async read(now: Date): Promise<void> {
      const gauges = await readQueueGauges(db);
      for (const [status, n] of Object.entries(gauges.items)) metrics.items.set({ status }, n);
      metrics.itemsPending.reset();
      for (const { robot, priority, n } of gauges.pending) metrics.itemsPending.set({ robot, priority: priorities[priority] }, n);
      metrics.oldestPending.reset();
      for (const { robot, since } of gauges.oldest) metrics.oldestPending.set({ robot }, since === null ? 0 : Math.max(0, (now.getTime() - since.getTime()) / 1000));
      metrics.webhooksPending.set(gauges.webhooksPending);
      for (const p of db.pools?.() ?? []) {
        metrics.poolConnections.set({ pool: p.pool, state: 'in_use' }, p.open - p.idle);
        metrics.poolConnections.set({ pool: p.pool, state: 'idle' }, p.idle);
        metrics.poolMax.set({ pool: p.pool }, p.max);
        metrics.poolWaiting.set({ pool: p.pool }, p.waiting);
      }
    },
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
