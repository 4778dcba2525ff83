/**
 * Child process of dispatchLatency.ts: one robot that waits in a long poll (limit 1, wait
 * 20 s) again and again, and tells its parent over IPC when each lease response arrived
 * (`performance.timeOrigin + performance.now()`, comparable across processes on one machine).
 * Env: REFINERY_URL, ROBOT_ID, ROBOT_SECRET.
 */
import { RobotClient } from '@refinery/sdk';

const robot = new RobotClient({ url: process.env.REFINERY_URL!, robotId: process.env.ROBOT_ID!, secret: process.env.ROBOT_SECRET! });
let stopping = false;
process.on('disconnect', () => {
  stopping = true;
  process.exit(0);
});
process.send!({ ready: true });
while (!stopping) {
  const batch = await robot.lease({ wait: 'PT20S', limit: 1 });
  const at = performance.timeOrigin + performance.now();
  if (batch) process.send!({ at, batchId: batch.id, itemCount: batch.item_count });
}
