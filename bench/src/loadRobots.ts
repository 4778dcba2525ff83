/**
 * Child process of load.ts: hosts many robots (SDK RobotClient, one identity each), each in a loop
 * of real long polls (`lease({wait: 'PT20S', limit: 10})`), working each batch it gets as the toy
 * robot does (items file down, one annotation a record up, results posted). Every call is made
 * once: any answer that is not 2xx, and any exception, counts as an error (nothing retried, so
 * nothing hidden). On the parent's `stop` the polls are aborted; the host answers with its counts.
 * Env: REFINERY_URL; the robots come in the first IPC message, `{ robots: [{ id, secret }] }`.
 */
import { setMaxListeners } from 'node:events';
import { RobotClient } from '@refinery/sdk';
import type { ResultLine } from '@refinery/protocol';

export interface RobotHostStats {
  robots: number;
  leases: number;
  batches: number;
  items: number;
  errors: number;
  /** The first few errors' messages. */
  errorSamples: string[];
}

const stats: RobotHostStats = { robots: 0, leases: 0, batches: 0, items: 0, errors: 0, errorSamples: [] };
const stopping = new AbortController();
// Every robot's calls listen to it.
setMaxListeners(0, stopping.signal);

function error(err: unknown): void {
  if (stopping.signal.aborted) return;
  stats.errors++;
  if (stats.errorSamples.length < 5) stats.errorSamples.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}

async function robotLoop(robot: RobotClient): Promise<void> {
  while (!stopping.signal.aborted) {
    try {
      stats.leases++;
      const batch = await robot.lease({ wait: 'PT20S', limit: 10, signal: stopping.signal });
      if (!batch) continue;
      const results: ResultLine[] = [];
      for await (const line of robot.downloadItems(batch, { signal: stopping.signal })) {
        results.push({ record_id: line.record.id, type: 'annotation', content: { annotations: [{ scheme: 'meta:load', label: 'load', score: Math.random() }] } });
      }
      await robot.uploadResults(batch, results, { signal: stopping.signal });
      await robot.postResults(batch.id, { lease_token: batch.lease_token }, { signal: stopping.signal });
      stats.batches++;
      stats.items += results.length;
    } catch (err) {
      error(err);
      // A pause after an error, so that a fault does not turn into a busy loop.
      if (!stopping.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const loops: Promise<void>[] = [];
process.on('message', async (m: { robots?: Array<{ id: string; secret: string }>; stop?: boolean }) => {
  if (m.robots) {
    stats.robots = m.robots.length;
    for (const r of m.robots) loops.push(robotLoop(new RobotClient({ url: process.env.REFINERY_URL!, robotId: r.id, secret: r.secret })));
    process.send!({ started: true });
  }
  if (m.stop) {
    stopping.abort();
    await Promise.all(loops);
    process.send!({ stats });
  }
});
process.on('disconnect', () => process.exit(0));
