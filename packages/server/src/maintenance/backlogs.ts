import type { Context } from '../context.ts';
import { writeBacklog } from '../requests/backlog.ts';
import { createService } from './service.ts';

/** The backlogs of large requests left by a process that died or shut down are written (docs/large-requests.md). */
export function createBacklogs(ctx: Context, intervalMs: number) {
  return createService({
    name: 'backlogs',
    intervalMs,
    log: ctx.log,
    metrics: ctx.metrics,
    touched: (slices: number) => slices,
    runOnce: () => writeBacklog(ctx),
  });
}
