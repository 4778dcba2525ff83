/**
 * End to end: one request of `records` records enhanced by `robots` toy robot processes (SDK,
 * pull, batches of 1,000): items per second from POST /v1/requests to the request's final state.
 */
import { cpuTimer, describeCpu, processKind } from './cpuTime.ts';
import { referenceRecords, robotsWaiting, spawnToyRobot, startRefinery, stopProcess, type Backend } from './support.ts';

export interface EndToEndResult {
  backend: Backend;
  records: number;
  importSeconds: number;
  createSeconds: number;
  endToEndSeconds: number;
  itemsPerSecond: number;
  completed: number;
  /** CPU seconds from POST to the final state: PostgreSQL's backends (0 on PGlite, which runs inside Refinery), Refinery's process, the robots. */
  cpuSeconds: { postgresql: number; refinery: number; robots: number };
}

export async function endToEnd(backend: Backend, options: { records: number; robots: number; batchSize: number }): Promise<EndToEndResult> {
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    let t = performance.now();
    const imported = await client.importRecords(referenceRecords(options.records, `${backend}-${Date.now()}`));
    const importSeconds = (performance.now() - t) / 1000;
    const robot = await client.createRobot({ name: `toy-${backend}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: options.batchSize });
    const children = Array.from({ length: options.robots }, () => spawnToyRobot(url, robot, options.batchSize));
    await robotsWaiting(children);
    const cpu = cpuTimer();
    t = performance.now();
    const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
    const createSeconds = (performance.now() - t) / 1000;
    const done = await client.waitForRequest(request.id, { intervalMs: 100 });
    const endToEndSeconds = (performance.now() - t) / 1000;
    const used = cpu();
    if (process.env.BENCH_PROFILE) console.error(`# CPU time end to end (${backend}, ${endToEndSeconds.toFixed(1)} s): ${describeCpu(used)}`);
    await Promise.all(children.map(stopProcess));
    const cpuSeconds = { postgresql: used.get(processKind.postgresql) ?? 0, refinery: used.get(processKind.bench) ?? 0, robots: used.get(processKind.robots) ?? 0 };
    return { backend, records: options.records, importSeconds, createSeconds, endToEndSeconds, itemsPerSecond: options.records / endToEndSeconds, completed: done.counts.completed, cpuSeconds };
  } finally {
    await running.close();
  }
}
