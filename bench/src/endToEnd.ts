/**
 * End to end: one request of `records` records enhanced by `robots` toy robot processes (SDK,
 * pull, batches of 1,000): items per second from POST /v1/requests to the request's final state.
 * With `protocol: 'destiny'`, the robots speak DESTINY's protocol (destinyRobot.ts, docs/destiny.md).
 */
import type { RefineryClient } from '@refinery/sdk';
import { startCpuProfile } from './cpuProfile.ts';
import { cpuTimer, describeCpu, processKind } from './cpuTime.ts';
import { startPgCounts, type PgCounts } from './pgCounters.ts';
import { referenceRecords, registerDestinyRobot, untilIdle, spawnDestinyRobot, spawnToyRobot, startRefinery, stopProcess, type Backend } from './support.ts';

/** CPU seconds while the clock ran: PostgreSQL's backends (0 on PGlite, which runs inside Refinery), Refinery's process, the robots. */
export interface RunCpuSeconds {
  postgresql: number;
  refinery: number;
  robots: number;
}

export interface EndToEndResult {
  backend: Backend;
  records: number;
  importSeconds: number;
  createSeconds: number;
  endToEndSeconds: number;
  itemsPerSecond: number;
  completed: number;
  /** From POST to the final state. */
  cpuSeconds: RunCpuSeconds;
  /** With `pgCounts`, on PostgreSQL: what PostgreSQL counted from POST to the final state. */
  pg: PgCounts | null;
}

export interface ToyRobotsOptions {
  records: number;
  robots: number;
  batchSize: number;
  /** The robots' protocol: Refinery's (the default) or DESTINY's. */
  protocol?: 'refinery' | 'destiny';
  /** Read PostgreSQL's own counters around the run (pgCounters.ts; adds 22 s of waiting). */
  pgCounts?: boolean;
}

/**
 * A Refinery on a fresh `backend` database with `records` reference records imported (untimed)
 * and `robots` toy robot processes waiting in their long polls; `measured` then runs on the clock,
 * with the CPU of every process counted (`label` names it in BENCH_PROFILE's output).
 */
export async function withToyRobots<T>(
  backend: Backend,
  options: ToyRobotsOptions,
  label: string,
  measured: (client: RefineryClient, robotId: string, recordIds: string[]) => Promise<T>,
): Promise<{ importSeconds: number; seconds: number; cpuSeconds: RunCpuSeconds; pg: PgCounts | null; result: T }> {
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    let t = performance.now();
    const imported = await client.importRecords(referenceRecords(options.records, `${backend}-${Date.now()}`));
    const importSeconds = (performance.now() - t) / 1000;
    const name = `toy-${backend}-${Date.now()}`;
    const destinyRobot = options.protocol === 'destiny' ? await registerDestinyRobot(url, name) : null;
    const robot = destinyRobot ?? (await client.createRobot({ name, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: options.batchSize }));
    const children = Array.from({ length: options.robots }, () => (destinyRobot ? spawnDestinyRobot(url, destinyRobot, options.batchSize) : spawnToyRobot(url, robot as { id: string; secret: string }, options.batchSize)));
    await untilIdle(children);
    const pgCounts = options.pgCounts && running.databaseUrl ? await startPgCounts(running.databaseUrl) : null;
    const stopProfile = await startCpuProfile(`${label} ${backend}`);
    const cpu = cpuTimer();
    t = performance.now();
    const result = await measured(client, robot.id, imported.ids);
    const seconds = (performance.now() - t) / 1000;
    const used = cpu();
    await stopProfile();
    const pg = (await pgCounts?.()) ?? null;
    if (process.env.BENCH_PROFILE) console.error(`# CPU time ${label} (${backend}, ${seconds.toFixed(1)} s): ${describeCpu(used)}`);
    await Promise.all(children.map(stopProcess));
    const cpuSeconds = { postgresql: used.get(processKind.postgresql) ?? 0, refinery: used.get(processKind.bench) ?? 0, robots: used.get(processKind.robots) ?? 0 };
    return { importSeconds, seconds, cpuSeconds, pg, result };
  } finally {
    await running.close();
  }
}

export async function endToEnd(backend: Backend, options: ToyRobotsOptions): Promise<EndToEndResult> {
  const run = await withToyRobots(backend, options, options.protocol === 'destiny' ? 'end to end, DESTINY robots' : 'end to end', async (client, robotId, recordIds) => {
    const t = performance.now();
    const request = await client.createRequest({ robot_id: robotId, record_ids: recordIds });
    const createSeconds = (performance.now() - t) / 1000;
    const done = await client.waitForRequest(request.id, { intervalMs: 100 });
    return { createSeconds, completed: done.counts.completed };
  });
  const { importSeconds, seconds: endToEndSeconds, cpuSeconds, pg } = run;
  return { backend, records: options.records, importSeconds, createSeconds: run.result.createSeconds, endToEndSeconds, itemsPerSecond: options.records / endToEndSeconds, completed: run.result.completed, cpuSeconds, pg };
}
