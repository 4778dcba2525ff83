/**
 * A graphile-worker 0.17.3 worker process (spawned by graphileWorker.ts, like one of Refinery's
 * robot processes). PEER_CONFIG: { url, concurrency, localQueueSize, completeJobBatchDelay, mode }.
 * mode 'enhance': task `enhance` with payload { from, to } does the toy enhancement of those items.
 * mode 'ping': task `ping` with payload { i } reports when it started (dispatch latency).
 */
import { Logger, run, type Task } from 'graphile-worker';
import pg from 'pg';
import { doneReporter, enhanceItems, wallClock, type WorkerMessage } from './peerWork.ts';

interface Config {
  url: string;
  concurrency: number;
  localQueueSize: number;
  completeJobBatchDelay: number;
  mode: 'enhance' | 'ping';
}
const config = JSON.parse(process.env.PEER_CONFIG ?? '{}') as Config;
const send = (m: WorkerMessage) => process.send?.(m);

const pool = new pg.Pool({ connectionString: config.url, max: config.concurrency });
const reporter = doneReporter();

const enhance: Task = async (payload) => {
  const { from, to } = payload as { from: number; to: number };
  reporter.add(await enhanceItems(pool, from, to));
};
const ping: Task = async (payload) => {
  send({ t: 'started', i: (payload as { i: number }).i, at: wallClock() });
};

const runner = await run({
  connectionString: config.url,
  concurrency: config.concurrency,
  maxPoolSize: config.concurrency + 2,
  noHandleSignals: true,
  pollInterval: 2000,
  logger: new Logger(() => (level, message) => {
    if (level === 'error') console.error(`graphile-worker: ${message}`);
  }),
  taskList: config.mode === 'ping' ? { ping } : { enhance },
  preset: {
    worker: {
      ...(config.localQueueSize > 1 ? { localQueue: { size: config.localQueueSize } } : {}),
      completeJobBatchDelay: config.completeJobBatchDelay,
    },
  },
});
runner.events.on('job:complete', ({ job }) => {
  if (config.mode === 'ping') send({ t: 'completed', i: (job.payload as { i: number }).i });
});
send({ t: 'ready' });
await runner.promise;
