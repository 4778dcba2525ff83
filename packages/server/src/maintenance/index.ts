/**
 * The maintenance services (docs/operations.md): each chore its own service with its own interval
 * setting and metrics, `runOnce` for tests. Any number of processes may run them at once: every
 * step is guarded in the database.
 */
import { deleteExpiredNonces } from '../auth/index.ts';
import { createAutomationConsumer } from '../automations/index.ts';
import type { Context } from '../context.ts';
import { churningTables, vacuumUnlessAutovacuum } from '../db/index.ts';
import { createEventSender } from '../events/index.ts';
import { createRecordSealer } from '../records/index.ts';
import { expireOverdueRequests, writeBacklog, writePendingManifests } from '../requests/index.ts';
import { createCleanup } from '../retention/index.ts';
import { createImportResumption } from './importResumption.ts';
import { createLeaseExpiry } from './leaseExpiry.ts';
import { createOrphanedRequests } from './orphanedRequests.ts';
import { createChore, createService, type Service } from './service.ts';

export { createChore, createService, type Service } from './service.ts';
export { maintenanceIntervals, type MaintenanceIntervals, type MaintenanceService } from './intervals.ts';

export function createMaintenance(ctx: Context) {
  const every = ctx.config.maintenanceIntervalsMs;
  /** The chores that keep requests and batches moving, in the order `runOnce` runs them. */
  const chores = {
    leaseExpiry: createLeaseExpiry(ctx, every.leaseExpiry),
    orphanedRequests: createOrphanedRequests(ctx, every.orphanedRequests),
    /** Open requests past their `expires_at` expire, with their unfinished items. */
    deadlines: createChore(ctx, 'deadlines', every.deadlines, () => expireOverdueRequests(ctx)),
    importResumption: createImportResumption(ctx, every.importResumption),
    /** The backlogs of large requests left by a process that died or shut down are written (docs/large-requests.md). */
    backlogs: createChore(ctx, 'backlogs', every.backlogs, () => writeBacklog(ctx)),
    /** Finished requests whose manifest is not written (their process died first) get it. */
    manifests: createChore(ctx, 'manifests', every.manifests, () => writePendingManifests(ctx)),
    /** Signature nonces past their time window are deleted (a replay of them is refused as stale anyway). */
    nonceCleanup: createChore(ctx, 'nonce-cleanup', every.nonceCleanup, () => deleteExpiredNonces(ctx.db, { now: ctx.clock.now() })),
  };
  const others = {
    /** The tables that churn are vacuumed where no autovacuum runs (PGlite, or `autovacuum = off`). */
    vacuum: createService({
      name: 'vacuum',
      intervalMs: every.vacuum,
      log: ctx.log,
      metrics: ctx.metrics,
      runOnce: () => vacuumUnlessAutovacuum(ctx.db),
      touched: (vacuumed) => (vacuumed ? churningTables.length : 0),
    }),
    cleanup: createCleanup({ ctx, config: { intervalMs: every.retentionCleanup } }),
    eventSender: createEventSender({ ctx, config: { intervalMs: every.webhookSender } }),
    recordSealer: createRecordSealer({ ctx, config: { intervalMs: every.recordSealer } }),
    /** What imports touched, made into the automations' requests (docs/automations.md); its interval follows REFINERY_AUTOMATION_WINDOW. */
    automations: createAutomationConsumer({ ctx }),
  };
  const services: Array<Service<unknown>> = [...Object.values(chores), ...Object.values(others)];
  return {
    ...chores,
    ...others,
    /** Each of `chores` once, in order, now: what tests call after moving their clock. Gives what each touched. */
    async runOnce(): Promise<{ [K in keyof typeof chores]: number }> {
      const touched = {} as Record<keyof typeof chores, number>;
      for (const [name, chore] of Object.entries(chores) as Array<[keyof typeof chores, Service<number>]>) touched[name] = await chore.runOnce();
      return touched;
    },
    start(): void {
      for (const service of services) service.start();
    },
    async stop(): Promise<void> {
      await Promise.all(services.map((service) => service.stop()));
    },
  };
}
export type Maintenance = ReturnType<typeof createMaintenance>;

