/**
 * The maintenance services (docs/operations.md): each chore its own service with its own interval
 * setting and metrics, `runOnce` for tests. Any number of processes may run them at once: every
 * step is guarded in the database.
 */
import type { Context } from '../context.ts';
import { createEventSender } from '../events/sender.ts';
import { createRecordSealer } from '../records/encryption.ts';
import { createCleanup } from '../retention/cleanup.ts';
import { createBacklogs } from './backlogs.ts';
import { createDeadlines } from './deadlines.ts';
import { createImportResumption } from './importResumption.ts';
import { createLeaseExpiry } from './leaseExpiry.ts';
import { createManifests } from './manifests.ts';
import { createNonceCleanup } from './nonceCleanup.ts';
import { createOrphanedRequests } from './orphanedRequests.ts';
import type { Service } from './service.ts';
import { createVacuum } from './vacuum.ts';

export { createService, type Service } from './service.ts';
export { maintenanceIntervals, type MaintenanceIntervals, type MaintenanceService } from './intervals.ts';

export function createMaintenance(ctx: Context) {
  const every = ctx.config.maintenanceIntervalsMs;
  /** The chores that keep requests and batches moving, in the order `runOnce` runs them. */
  const chores = {
    leaseExpiry: createLeaseExpiry(ctx, every.leaseExpiry),
    orphanedRequests: createOrphanedRequests(ctx, every.orphanedRequests),
    deadlines: createDeadlines(ctx, every.deadlines),
    importResumption: createImportResumption(ctx, every.importResumption),
    backlogs: createBacklogs(ctx, every.backlogs),
    manifests: createManifests(ctx, every.manifests),
    nonceCleanup: createNonceCleanup(ctx, every.nonceCleanup),
  };
  const others = {
    vacuum: createVacuum(ctx, every.vacuum),
    cleanup: createCleanup({ ctx, config: { intervalMs: every.retentionCleanup } }),
    eventSender: createEventSender({ ctx, config: { intervalMs: every.webhookSender } }),
    recordSealer: createRecordSealer({ ctx, config: { intervalMs: every.recordSealer } }),
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
