import type { Context } from '../context.ts';
import { afterRequestsFinished } from './manifests.ts';
import { finishRequestsIfDone } from './queries/finishRequestsIfDone.ts';
import { lockBacklogs } from './queries/lockBacklogs.ts';
import { writeBacklogSlices, type WrittenSlices } from './queries/writeBacklogSlices.ts';

/** The process's running backlog writer, and whether it was asked to look once more. */
const writers = new WeakMap<object, { running: Promise<number>; again: boolean }>();

/**
 * Writes the backlog of large requests (docs/large-requests.md) a slice at a time, each slice in
 * a statement of its own, until none is left. One writer per process: a call while it runs makes
 * it look once more before it stops, so a backlog committed as it finished is not left behind.
 * Started after a create that left a backlog, and by the `backlogs` maintenance service (the backlog
 * of a process that died or shut down: a closing process stops after the slice under way). Any number of processes
 * may write at once: each slice is written once. Gives the number of slices written.
 */
export function writeBacklog(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics' | 'work'>): Promise<number> {
  const current = writers.get(ctx);
  if (current) {
    current.again = true;
    return current.running;
  }
  const writer = { running: Promise.resolve(0), again: false };
  writers.set(ctx, writer);
  writer.running = (async () => {
    let slices = 0;
    try {
      while (!ctx.background.closing) {
        const now = ctx.clock.now();
        const written = await writeBacklogSlices(ctx.db, { now, next: true });
        if (written.length === 0) {
          if (!writer.again) break;
          writer.again = false;
          continue;
        }
        slices += written.length;
        await afterSlicesWritten(ctx, written, now);
      }
      return slices;
    } finally {
      writers.delete(ctx);
    }
  })();
  return writer.running;
}

/** After slices were written: their robots' polls here look, and requests whose last open items were written denied or expired finish. */
async function afterSlicesWritten(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics' | 'work'>, written: WrittenSlices[], now: Date): Promise<void> {
  for (const w of written) if (w.pending > 0) ctx.work.wakeHere(w.robotId);
  const closing = written.filter((w) => w.closed > 0).map((w) => w.requestId);
  if (closing.length > 0) afterRequestsFinished(ctx, await finishRequestsIfDone(ctx.db, { requestIds: closing, now }));
}

/**
 * Writes what is left of one request's backlog now, in one transaction (as the cancel does), so
 * that every one of its ids is an item: for a read that lists them all (a DESTINY request's
 * `reference_ids`). A request with no backlog costs one statement.
 */
export async function writeBacklogOf(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics' | 'work'>, requestId: string): Promise<void> {
  if ((await lockBacklogs(ctx.db, { requestIds: [requestId] })).length === 0) return;
  const now = ctx.clock.now();
  const written = await ctx.db.transaction(async (tx) => {
    const backlogs = await lockBacklogs(tx, { requestIds: [requestId] });
    return backlogs.length === 0 ? [] : writeBacklogSlices(tx, { now, requestIds: backlogs });
  });
  await afterSlicesWritten(ctx, written, now);
}
