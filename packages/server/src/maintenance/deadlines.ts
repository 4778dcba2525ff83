import type { Context } from '../context.ts';
import { expireOverdueRequests } from '../requests/lifecycle.ts';
import { createService } from './service.ts';

/** Open requests past their `expires_at` expire, with their unfinished items (requests/lifecycle.ts). */
export function createDeadlines(ctx: Context, intervalMs: number) {
  return createService({ name: 'deadlines', intervalMs, log: ctx.log, metrics: ctx.metrics, touched: (expired: number) => expired, runOnce: () => expireOverdueRequests(ctx) });
}
