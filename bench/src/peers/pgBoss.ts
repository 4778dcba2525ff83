/**
 * pg-boss 10.4.2 doing Refinery's work, on a fresh PostgreSQL database: `items` items in jobs of
 * `jobSize` (1,000: one job per batch; 1: one job per item), bulk-enqueued with `insert([...])`
 * (timed), worked by `processes` worker processes (pgBossProcess.ts), each with `concurrency` calls
 * of `work` fetching `batchSize` jobs per poll at pg-boss's minimum polling interval (0.5 s).
 * Items per second from the first insert to the last item done and no job left unfinished.
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import { cpuTimer } from '../cpuTime.ts';
import { startPgCounts } from '../pgCounters.ts';
import { freshPostgresDatabase } from '../support.ts';
import { peerCpuSeconds, type PeerThroughputOptions, type PeerThroughputResult } from './graphileWorker.ts';
import { countDone, preparePeerTables, spawnPeerWorkers, waitForZero } from './peerWork.ts';

const workerScript = new URL('./pgBossProcess.ts', import.meta.url);
const queue = 'enhance';
const enqueueChunk = 10_000;

export interface PgBossThroughputOptions extends PeerThroughputOptions {
  /** Jobs fetched per poll by each `work`. Default 1 for batch jobs, 200 for one-item jobs. */
  batchSize?: number;
  /** Default 0.5, pg-boss's minimum. */
  pollingIntervalSeconds?: number;
}

export async function pgBossThroughput(options: PgBossThroughputOptions): Promise<PeerThroughputResult> {
  const { items, jobSize } = options;
  const perItem = jobSize === 1;
  const processes = options.processes ?? 4;
  /** `work` calls per process. */
  const concurrency = options.concurrency ?? 2;
  const batchSize = options.batchSize ?? (perItem ? 200 : 1);
  const pollingIntervalSeconds = options.pollingIntervalSeconds ?? 0.5;
  const poolSize = perItem ? 8 : concurrency * batchSize;
  const database = await freshPostgresDatabase('refinery_bench_pgboss', { migrated: true });
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => {}); // an idle client ended by the database's drop
  const boss = new PgBoss({ connectionString: database.url, max: 4, supervise: false, schedule: false });
  boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
  let workers: Awaited<ReturnType<typeof spawnPeerWorkers>> | undefined;
  try {
    await preparePeerTables(database.url, items);
    await boss.start();
    await boss.createQueue(queue);
    workers = await spawnPeerWorkers(workerScript, processes, { url: database.url, queue, workers: concurrency, batchSize, pollingIntervalSeconds, poolSize });
    const jobs: PgBoss.JobInsert[] = [];
    for (let from = 1; from <= items; from += jobSize) jobs.push({ name: queue, data: { from, to: Math.min(items, from + jobSize - 1) } });
    const pgCounts = options.pgCounts ? await startPgCounts(database.url) : null;
    const cpu = cpuTimer();
    const t0 = performance.now();
    for (let i = 0; i < jobs.length; i += enqueueChunk) await boss.insert(jobs.slice(i, i + enqueueChunk));
    const enqueueSeconds = (performance.now() - t0) / 1000;
    await workers.waitForDone(items, 170_000);
    await waitForZero(pool, `select count(*) as n from pgboss.job where name = $1 and state < 'completed'`, [queue], 30_000);
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = peerCpuSeconds(cpu());
    const pg = (await pgCounts?.()) ?? null;
    const counted = await countDone(database.url);
    const settings = `${processes} processes × ${concurrency} work() × batchSize ${batchSize}, ${poolSize} statements at once per process, polling ${pollingIntervalSeconds} s, insert() in chunks of ${enqueueChunk}`;
    return { peer: 'pg-boss 10.4.2', items, jobSize, jobs: jobs.length, processes, concurrency, settings, enqueueSeconds, seconds, itemsPerSecond: items / seconds, ...counted, cpuSeconds, pg };
  } finally {
    await workers?.stop();
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await pool.end();
    await database.drop();
  }
}
