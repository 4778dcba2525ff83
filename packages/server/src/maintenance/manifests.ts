import type { Context } from '../context.ts';
import { writePendingManifests } from '../requests/manifests.ts';
import { createService } from './service.ts';

/** Finished requests whose manifest is not written (their process died first) get it. */
export function createManifests(ctx: Context, intervalMs: number) {
  return createService({ name: 'manifests', intervalMs, log: ctx.log, metrics: ctx.metrics, touched: (written: number) => written, runOnce: () => writePendingManifests(ctx) });
}
