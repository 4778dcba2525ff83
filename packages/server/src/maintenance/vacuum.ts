import type { Context } from '../context.ts';
import { churningTables, vacuumUnlessAutovacuum } from '../db/vacuum.ts';
import { createService } from './service.ts';

/** The tables that churn are vacuumed where no autovacuum runs (PGlite, or `autovacuum = off`). */
export function createVacuum(ctx: Context, intervalMs: number) {
  return createService({
    name: 'vacuum',
    intervalMs,
    log: ctx.log,
    metrics: ctx.metrics,
    touched: (vacuumed: boolean) => (vacuumed ? churningTables.length : 0),
    runOnce: () => vacuumUnlessAutovacuum(ctx.db),
  });
}
