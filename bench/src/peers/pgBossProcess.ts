/**
 * A pg-boss 10.4.2 worker process (spawned by pgBoss.ts, like one of Refinery's robot processes).
 * PEER_CONFIG: { url, queue, workers, batchSize, pollingIntervalSeconds, poolSize }: `workers`
 * calls of `work` (pg-boss 10's concurrency: teamSize is gone), each fetching up to `batchSize`
 * jobs per poll and completing them together. A job's payload { from, to } names its items; the
 * jobs of one fetch are worked at once, each on its own (at most `poolSize` statements at a time).
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import { doneReporter, enhanceItems, type WorkerMessage } from './peerWork.ts';

interface Config {
  url: string;
  queue: string;
  workers: number;
  batchSize: number;
  pollingIntervalSeconds: number;
  poolSize: number;
}
const config = JSON.parse(process.env.PEER_CONFIG ?? '{}') as Config;

const pool = new pg.Pool({ connectionString: config.url, max: config.poolSize });
const reporter = doneReporter();
const boss = new PgBoss({ connectionString: config.url, max: config.workers + 2, supervise: false, schedule: false, migrate: false });
boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
await boss.start();

for (let w = 0; w < config.workers; w++) {
  await boss.work<{ from: number; to: number }>(
    config.queue,
    { batchSize: config.batchSize, pollingIntervalSeconds: config.pollingIntervalSeconds },
    async (jobs) => {
      await Promise.all(jobs.map(async (job) => reporter.add(await enhanceItems(pool, job.data.from, job.data.to))));
    },
  );
}
process.send?.({ t: 'ready' } satisfies WorkerMessage);
