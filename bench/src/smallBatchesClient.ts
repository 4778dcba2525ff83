/**
 * Child process of smallBatches.ts: `CONCURRENCY` loops, timed from the first call to the last
 * answer, printed as one JSON line on stdout.
 * MODE=refinery: each loop leases one item (limit 1, no wait), GETs its items file, PUTs one
 *   toy results line and POSTs results, until a lease comes back empty. One cycle = 4 requests.
 * MAX_SECONDS: no new cycle starts after this long (Refinery mode).
 * MODE=fastify: each loop GETs TARGET_URL until `COUNT` requests were made in all.
 * The same HTTP client (Node's global fetch, undici) in both.
 */
import { RobotClient, type BatchRecord } from '@refinery/sdk';
import { toyAnnotation } from '../../examples/toy-robot/src/robot.ts';

const concurrency = Number(process.env.CONCURRENCY ?? 4);
/** Loops stop starting new cycles after this long (the run stays within the bench's time budget). */
const deadline = performance.now() + Number(process.env.MAX_SECONDS ?? 1e9) * 1000;
const mode = process.env.MODE;
let cycles = 0;
const t = performance.now();

if (mode === 'refinery') {
  const robot = new RobotClient({ url: process.env.REFINERY_URL!, robotId: process.env.ROBOT_ID!, secret: process.env.ROBOT_SECRET! });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const batch = await robot.lease({ limit: 1 });
        if (!batch) return;
        const records: BatchRecord[] = [];
        for await (const line of robot.downloadItems(batch)) records.push(line.record);
        await robot.uploadResults(batch, records.map((r) => ({ record_id: r.id, ...toyAnnotation(r) })));
        await robot.postResults(batch.id, { lease_token: batch.lease_token });
        cycles++;
      }
    }),
  );
} else if (mode === 'fastify') {
  const count = Number(process.env.COUNT);
  const target = process.env.TARGET_URL!;
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        const response = await fetch(target);
        await response.text();
        cycles++;
      }
    }),
  );
} else {
  throw new Error(`MODE must be refinery or fastify, not ${mode}`);
}
process.stdout.write(JSON.stringify({ cycles, seconds: (performance.now() - t) / 1000 }) + '\n');
