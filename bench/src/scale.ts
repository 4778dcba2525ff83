/**
 * Scale: one request of `items` items end to end on PostgreSQL, with Refinery in a process of
 * its own (`node --import tsx packages/server/src/cli.ts serve`, DATABASE_URL) and 4 toy robot
 * processes (SDK, pull, batches of 1,000). The records are imported first (untimed). Items per
 * second from POST /v1/requests to the request's final state; Refinery's peak RSS (VmHWM from
 * /proc/<pid>/status at the end, plus VmRSS sampled every 100 ms to tell which phase peaked);
 * run at 100,000 and at BENCH_SCALE_ITEMS (default 1,000,000) the same way, and the ratio of
 * seconds per item.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RefineryClient } from '@refinery/sdk';
import { procCpuSeconds } from './cpuTime.ts';
import { adminKey, freshPostgresDatabase, procStatusKb, referenceRecords, runFolder, spawnToyRobot, startRefineryProcess, stopProcess, untilIdle } from './support.ts';

export interface ScaleRun {
  items: number;
  importSeconds: number;
  createSeconds: number;
  endToEndSeconds: number;
  itemsPerSecond: number;
  completed: number;
  /** VmHWM of Refinery's process at the end, MB. */
  peakRssMb: number;
  /** Highest VmRSS sampled (every 100 ms) while importing, creating the request, processing. */
  peakRssImportMb: number;
  peakRssCreateMb: number;
  peakRssProcessMb: number;
  /** CPU seconds (user + system) Refinery's process spent from POST /v1/requests to the final state. */
  refineryCpuSeconds: number;
}

export interface ScaleResult {
  runs: [ScaleRun, ScaleRun];
  /** (seconds per item at the large size) / (seconds per item at 100,000). */
  costRatio: number;
}

const cliMain = fileURLToPath(new URL('../../packages/server/src/cli.ts', import.meta.url));

export async function scaleRun(items: number, robots = 4, batchSize = 1000): Promise<ScaleRun> {
  const database = await freshPostgresDatabase('refinery_bench_scale');
  const dir = await runFolder('refinery-bench-scale-');
  let refinery: ChildProcess | undefined;
  const children: ChildProcess[] = [];
  try {
    // As `npm start` runs it: with V8's heap bounded (README, "Memory").
    const started = await startRefineryProcess(['--max-old-space-size=192', '--import', 'tsx', cliMain], { DATABASE_URL: database.url, REFINERY_DATA_DIR: dir });
    refinery = started.child;
    const pid = refinery.pid!;
    const client = new RefineryClient({ url: started.url, apiKey: adminKey });
    let phase: 'import' | 'create' | 'process' = 'import';
    const peaks = { import: 0, create: 0, process: 0 };
    const sampler = setInterval(() => {
      const p = phase;
      void procStatusKb(pid, 'VmRSS').then((kb) => {
        peaks[p] = Math.max(peaks[p], kb);
      });
    }, 100);
    try {
      let t = performance.now();
      const imported = await client.importRecords(referenceRecords(items, `scale-${Date.now()}`));
      const importSeconds = (performance.now() - t) / 1000;
      const robot = await client.createRobot({ name: `toy-scale-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: batchSize });
      for (let i = 0; i < robots; i++) children.push(spawnToyRobot(started.url, robot, batchSize));
      await untilIdle(children);
      phase = 'create';
      const cpuBefore = await procCpuSeconds(pid);
      t = performance.now();
      const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
      const createSeconds = (performance.now() - t) / 1000;
      phase = 'process';
      const done = await client.waitForRequest(request.id, { intervalMs: 100 });
      const endToEndSeconds = (performance.now() - t) / 1000;
      const refineryCpuSeconds = (await procCpuSeconds(pid)) - cpuBefore;
      const peakRssMb = (await procStatusKb(pid, 'VmHWM')) / 1024;
      return {
        items,
        importSeconds,
        createSeconds,
        endToEndSeconds,
        itemsPerSecond: items / endToEndSeconds,
        completed: done.counts.completed,
        peakRssMb,
        peakRssImportMb: peaks.import / 1024,
        peakRssCreateMb: peaks.create / 1024,
        peakRssProcessMb: peaks.process / 1024,
        refineryCpuSeconds,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await Promise.all(children.map(stopProcess));
    if (refinery) await stopProcess(refinery);
    await database.drop();
  }
}

export async function scale(options: { items?: number; baseItems?: number } = {}): Promise<ScaleResult> {
  const items = options.items ?? Number(process.env.BENCH_SCALE_ITEMS ?? 1_000_000);
  const baseItems = options.baseItems ?? 100_000;
  const base = await scaleRun(baseItems);
  const large = await scaleRun(items);
  return { runs: [base, large], costRatio: large.endToEndSeconds / large.items / (base.endToEndSeconds / base.items) };
}
