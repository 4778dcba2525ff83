/**
 * Many requests: the end-to-end run's 100,000 records asked for as `requests` requests at once
 * (from `requesters` clients side by side), worked by the same toy robots: items per second from
 * the first POST /v1/requests to every request's final state.
 */
import { cpuTimer, describeCpu, processKind } from './cpuTime.ts';
import { referenceRecords, robotsWaiting, spawnToyRobot, startRefinery, stopProcess, type Backend } from './support.ts';

export interface ManyRequestsResult {
  backend: Backend;
  records: number;
  requests: number;
  seconds: number;
  createSeconds: number;
  itemsPerSecond: number;
  completed: number;
  cpuSeconds: { postgresql: number; refinery: number; robots: number };
}

export async function manyRequests(backend: Backend, options: { records: number; requests: number; robots: number; batchSize: number; requesters?: number }): Promise<ManyRequestsResult> {
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    const imported = await client.importRecords(referenceRecords(options.records, `${backend}-${Date.now()}`));
    const robot = await client.createRobot({ name: `toy-${backend}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: options.batchSize });
    const children = Array.from({ length: options.robots }, () => spawnToyRobot(url, robot, options.batchSize));
    await robotsWaiting(children);
    const per = Math.ceil(imported.ids.length / options.requests);
    const slices = Array.from({ length: options.requests }, (_, i) => imported.ids.slice(i * per, (i + 1) * per)).filter((s) => s.length > 0);
    const cpu = cpuTimer();
    const t = performance.now();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: options.requesters ?? 4 }, async () => {
        while (next < slices.length) {
          const s = slices[next++];
          ids.push((await client.createRequest({ robot_id: robot.id, record_ids: s })).id);
        }
      }),
    );
    const createSeconds = (performance.now() - t) / 1000;
    let completed = 0;
    for (const id of ids) completed += (await client.waitForRequest(id, { intervalMs: 100 })).counts.completed;
    const seconds = (performance.now() - t) / 1000;
    const used = cpu();
    if (process.env.BENCH_PROFILE) console.error(`# CPU time many requests (${backend}, ${seconds.toFixed(1)} s): ${describeCpu(used)}`);
    await Promise.all(children.map(stopProcess));
    const cpuSeconds = { postgresql: used.get(processKind.postgresql) ?? 0, refinery: used.get(processKind.bench) ?? 0, robots: used.get(processKind.robots) ?? 0 };
    return { backend, records: options.records, requests: slices.length, seconds, createSeconds, itemsPerSecond: options.records / seconds, completed, cpuSeconds };
  } finally {
    await running.close();
  }
}
