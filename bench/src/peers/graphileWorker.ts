/**
 * graphile-worker 0.17.3 doing Refinery's work, on a fresh PostgreSQL database:
 * - graphileWorkerThroughput: `items` items in jobs of `jobSize` (1,000: one job per batch;
 *   1: one job per item), worked by `processes` worker processes (graphileWorkerProcess.ts)
 *   of `concurrency` each. Items per second from the first addJobs (bulk enqueue, timed) to
 *   the last item done and the job queue empty.
 * - graphileWorkerLatency: `jobs` jobs added one after another, each once the previous has
 *   completed (and `idleMs` passed), with one worker process waiting (LISTEN/NOTIFY):
 *   enqueue-to-start p50 and p99.
 */
import pg from 'pg';
import { Logger, makeWorkerUtils, runMigrations, type AddJobsJobSpec } from 'graphile-worker';
import { cpuTimer, processKind } from '../cpuTime.ts';
import { startPgCounts, type PgCounts } from '../pgCounters.ts';
import { freshPostgresDatabase, percentile, sleep } from '../support.ts';
import { countDone, preparePeerTables, spawnPeerWorkers, waitForZero, wallClock } from './peerWork.ts';

const workerScript = new URL('./graphileWorkerProcess.ts', import.meta.url);

export interface PeerThroughputOptions {
  items: number;
  /** Items per job: 1,000 (one job per batch) or 1 (one job per item). */
  jobSize: number;
  /** Worker processes. Default 4, as Refinery's 4 robot processes. */
  processes?: number;
  /** Jobs each process runs at once (graphile's concurrency; pg-boss: `work` calls). Default 2 for batch jobs, 8 for one-item jobs (graphile); 2 and 2 (pg-boss). */
  concurrency?: number;
  /** Read PostgreSQL's own counters around the run (pgCounters.ts; adds 22 s of waiting). */
  pgCounts?: boolean;
}

export interface GraphileThroughputOptions extends PeerThroughputOptions {
  /** graphile's localQueue size (jobs fetched and locked per query); ≤ 1 is off. Default: off for batch jobs, 100 for one-item jobs. */
  localQueueSize?: number;
  /** graphile's completeJobBatchDelay (ms; -1 is off). Default: off for batch jobs, 10 for one-item jobs. */
  completeJobBatchDelay?: number;
}

export interface PeerThroughputResult {
  peer: string;
  items: number;
  jobSize: number;
  jobs: number;
  processes: number;
  concurrency: number;
  /** The peer's settings, in words. */
  settings: string;
  /** Seconds to enqueue all the jobs (part of `seconds`). */
  enqueueSeconds: number;
  /** From the first enqueue to the last item done and the queue drained. */
  seconds: number;
  itemsPerSecond: number;
  /** Items marked done and enhancements inserted, counted after the clock stopped. */
  done: number;
  enhancements: number;
  /** CPU seconds while the clock ran: PostgreSQL's backends, the worker processes, the enqueuing (this process). */
  cpuSeconds: PeerCpuSeconds;
  /** With `pgCounts`: what PostgreSQL counted while the clock ran. */
  pg: PgCounts | null;
}

export interface PeerCpuSeconds {
  postgresql: number;
  workers: number;
  enqueuing: number;
}

/** The CPU a peer's run used (cpuTimer's, by kind of process). */
export function peerCpuSeconds(used: Map<string, number>): PeerCpuSeconds {
  return { postgresql: used.get(processKind.postgresql) ?? 0, workers: used.get(processKind.peerWorkers) ?? 0, enqueuing: used.get(processKind.bench) ?? 0 };
}

const enqueueChunk = 10_000;
const logger = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message}`);
});

export async function graphileWorkerThroughput(options: GraphileThroughputOptions): Promise<PeerThroughputResult> {
  const { items, jobSize } = options;
  const perItem = jobSize === 1;
  const processes = options.processes ?? 4;
  const concurrency = options.concurrency ?? (perItem ? 8 : 2);
  const localQueueSize = options.localQueueSize ?? (perItem ? 100 : -1);
  const completeJobBatchDelay = options.completeJobBatchDelay ?? (perItem ? 10 : -1);
  const database = await freshPostgresDatabase('refinery_bench_graphile', { migrated: true });
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => {}); // an idle client ended by the database's drop
  let workers: Awaited<ReturnType<typeof spawnPeerWorkers>> | undefined;
  try {
    await preparePeerTables(database.url, items);
    await runMigrations({ connectionString: database.url, logger });
    const utils = await makeWorkerUtils({ connectionString: database.url, logger });
    try {
      workers = await spawnPeerWorkers(workerScript, processes, { url: database.url, concurrency, localQueueSize, completeJobBatchDelay, mode: 'enhance' });
      const specs: AddJobsJobSpec[] = [];
      for (let from = 1; from <= items; from += jobSize) specs.push({ identifier: 'enhance', payload: { from, to: Math.min(items, from + jobSize - 1) } });
      const pgCounts = options.pgCounts ? await startPgCounts(database.url) : null;
      const cpu = cpuTimer();
      const t0 = performance.now();
      for (let i = 0; i < specs.length; i += enqueueChunk) await utils.addJobs(specs.slice(i, i + enqueueChunk));
      const enqueueSeconds = (performance.now() - t0) / 1000;
      await workers.waitForDone(items, 170_000);
      await waitForZero(pool, 'select count(*) as n from graphile_worker.jobs', [], 30_000);
      const seconds = (performance.now() - t0) / 1000;
      const cpuSeconds = peerCpuSeconds(cpu());
      const pg = (await pgCounts?.()) ?? null;
      const counted = await countDone(database.url);
      const settings = `${processes} processes × concurrency ${concurrency}, localQueue ${localQueueSize > 1 ? localQueueSize : 'off'}, completeJobBatchDelay ${completeJobBatchDelay < 0 ? 'off' : `${completeJobBatchDelay} ms`}, addJobs in chunks of ${enqueueChunk}`;
      return { peer: 'graphile-worker 0.17.3', items, jobSize, jobs: specs.length, processes, concurrency, settings, enqueueSeconds, seconds, itemsPerSecond: items / seconds, ...counted, cpuSeconds, pg };
    } finally {
      await utils.release();
    }
  } finally {
    await workers?.stop();
    await pool.end();
    await database.drop();
  }
}

export interface LatencyResult {
  jobs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function graphileWorkerLatency(options: { jobs: number; warmup?: number; idleMs?: number }): Promise<LatencyResult> {
  const warmup = options.warmup ?? 20;
  const idleMs = options.idleMs ?? 0;
  const database = await freshPostgresDatabase('refinery_bench_graphile');
  let workers: Awaited<ReturnType<typeof spawnPeerWorkers>> | undefined;
  try {
    await runMigrations({ connectionString: database.url, logger });
    const utils = await makeWorkerUtils({ connectionString: database.url, logger });
    try {
      workers = await spawnPeerWorkers(workerScript, 1, { url: database.url, concurrency: 1, localQueueSize: -1, completeJobBatchDelay: -1, mode: 'ping' });
      const started = new Map<number, number>();
      const waiters = new Map<number, () => void>();
      workers.onMessage((m) => {
        if (m.t === 'started') started.set(m.i, m.at);
        else if (m.t === 'completed') waiters.get(m.i)?.();
      });
      const latencies: number[] = [];
      for (let i = 0; i < warmup + options.jobs; i++) {
        const completed = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`graphile-worker: job ${i} not done within 10 s`)), 10_000);
          waiters.set(i, () => {
            clearTimeout(timer);
            resolve();
          });
        });
        const t = wallClock();
        await utils.addJob('ping', { i });
        await completed;
        waiters.delete(i);
        if (i >= warmup) latencies.push(started.get(i)! - t);
        if (idleMs > 0) await sleep(idleMs);
      }
      return { jobs: options.jobs, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies) };
    } finally {
      await utils.release();
    }
  } finally {
    await workers?.stop();
    await database.drop();
  }
}
