/**
 * Small batches: `batches` one-item batches of one request, worked by `concurrency` robot
 * loops in one child process (RobotClient: lease limit 1 → GET items → PUT one results line →
 * POST results; a cycle is those 4 HTTP requests), against a bare Fastify hello-world in this
 * process, driven by the same client (fetch) at the same concurrency with one GET per round trip.
 * Refinery runs in this process on PostgreSQL, as the Fastify server does.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { referenceRecords, startRefinery } from './support.ts';

export interface SmallBatchesResult {
  batches: number;
  /** Cycles done: `batches` unless `maxSeconds` cut the run short. */
  cycles: number;
  concurrency: number;
  refinerySeconds: number;
  /** lease + items + results + post cycles per second. */
  refineryRoundTripsPerSecond: number;
  refineryHttpRequestsPerSecond: number;
  /** CPU time of this process (Refinery, its server thread and libuv) per cycle, ms; the robot loops run in a child. */
  refineryCpuMsPerCycle: number;
  /** From the first lease to the request's final state (imports run in the background); NaN when cut short. */
  requestFinalSeconds: number;
  completed: number;
  fastifySeconds: number;
  fastifyRoundTripsPerSecond: number;
  /** Refinery cycles per second / Fastify requests per second. */
  ratio: number;
}

const clientMain = fileURLToPath(new URL('./smallBatchesClient.ts', import.meta.url));

function runClient(env: Record<string, string>): Promise<{ cycles: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(clientMain, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`small batches client exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** `maxSeconds` (default 150) bounds the Refinery run: past it no new cycle starts and the rate is of the cycles done. */
export async function smallBatches(options: { batches?: number; concurrency?: number; maxSeconds?: number } = {}): Promise<SmallBatchesResult> {
  const batches = options.batches ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const maxSeconds = options.maxSeconds ?? 150;

  // Refinery.
  const running = await startRefinery('postgres');
  let refinery: { cycles: number; seconds: number };
  let requestFinalSeconds: number;
  let completed: number;
  let refineryCpuMsPerCycle: number;
  try {
    const { client, url } = running;
    const imported = await client.importRecords(referenceRecords(batches, `small-${Date.now()}`));
    const robot = await client.createRobot({ name: `small-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: 1 });
    const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
    const t = performance.now();
    const cpu = process.cpuUsage();
    refinery = await runClient({ MODE: 'refinery', CONCURRENCY: String(concurrency), REFINERY_URL: url, ROBOT_ID: robot.id, ROBOT_SECRET: robot.secret, MAX_SECONDS: String(maxSeconds) });
    const used = process.cpuUsage(cpu);
    refineryCpuMsPerCycle = (used.user + used.system) / 1000 / refinery.cycles;
    if (refinery.cycles === batches) {
      const done = await client.waitForRequest(request.id, { intervalMs: 100 });
      requestFinalSeconds = (performance.now() - t) / 1000;
      completed = done.counts.completed;
    } else {
      requestFinalSeconds = Number.NaN;
      completed = (await client.getRequest(request.id)).counts.completed;
    }
  } finally {
    await running.close();
  }

  // Bare Fastify hello-world.
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  let fastify: { cycles: number; seconds: number };
  try {
    fastify = await runClient({ MODE: 'fastify', CONCURRENCY: String(concurrency), COUNT: String(batches), TARGET_URL: address });
  } finally {
    await app.close();
  }

  const refineryRoundTripsPerSecond = refinery.cycles / refinery.seconds;
  const fastifyRoundTripsPerSecond = fastify.cycles / fastify.seconds;
  return {
    batches,
    cycles: refinery.cycles,
    concurrency,
    refinerySeconds: refinery.seconds,
    refineryRoundTripsPerSecond,
    refineryHttpRequestsPerSecond: (refinery.cycles * 4) / refinery.seconds,
    refineryCpuMsPerCycle,
    requestFinalSeconds,
    completed,
    fastifySeconds: fastify.seconds,
    fastifyRoundTripsPerSecond,
    ratio: refineryRoundTripsPerSecond / fastifyRoundTripsPerSecond,
  };
}
