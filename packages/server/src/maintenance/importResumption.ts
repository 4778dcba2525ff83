import { claimStaleImports, importResults } from '../batches/index.ts';
import type { Context } from '../context.ts';
import { createChore } from './service.ts';

/**
 * Imports resumed per pass, run side by side: each renews its import lease from the start, and
 * the pass waits for them (a pass that claimed hundreds and ran them one by one would see the
 * leases of the last ones lapse before they began).
 */
const importsPerPass = 4;

/** Results imports whose import lease lapsed (their process died) are claimed and resumed. */
export function createImportResumption(ctx: Context, intervalMs: number) {
  return createChore(ctx, 'import-resumption', intervalMs, async () => {
    const stale = await claimStaleImports(ctx.db, { now: ctx.clock.now(), importLeaseMs: ctx.config.importLeaseMs, limit: importsPerPass });
    await Promise.all(stale.map((batchId) => ctx.background.run('import', { batch_id: batchId }, () => importResults(ctx, batchId))));
    return stale.length;
  });
}
