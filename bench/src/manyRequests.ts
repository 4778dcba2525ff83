/**
 * Many requests: the end-to-end run's records asked for as `requests` requests, created
 * `requesters` at a time while the same toy robots work: items per second from the first
 * POST /v1/requests to every request's final state.
 */
import { withToyRobots, type RunCpuSeconds, type ToyRobotsOptions } from './endToEnd.ts';
import type { Backend } from './support.ts';

export interface ManyRequestsResult {
  backend: Backend;
  records: number;
  requests: number;
  /** Clients creating the requests side by side. */
  requesters: number;
  seconds: number;
  createSeconds: number;
  itemsPerSecond: number;
  completed: number;
  cpuSeconds: RunCpuSeconds;
}

export async function manyRequests(backend: Backend, options: ToyRobotsOptions & { requests: number; requesters?: number }): Promise<ManyRequestsResult> {
  const requesters = options.requesters ?? 4;
  const run = await withToyRobots(backend, options, 'many requests', async (client, robotId, recordIds) => {
    const per = Math.ceil(recordIds.length / options.requests);
    const slices = Array.from({ length: options.requests }, (_, i) => recordIds.slice(i * per, (i + 1) * per)).filter((s) => s.length > 0);
    const t = performance.now();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: requesters }, async () => {
        while (next < slices.length) {
          const slice = slices[next++];
          ids.push((await client.createRequest({ robot_id: robotId, record_ids: slice })).id);
        }
      }),
    );
    const createSeconds = (performance.now() - t) / 1000;
    let completed = 0;
    for (const id of ids) completed += (await client.waitForRequest(id, { intervalMs: 100 })).counts.completed;
    return { requests: slices.length, createSeconds, completed };
  });
  const { seconds, cpuSeconds, result } = run;
  return { backend, records: options.records, requests: result.requests, requesters, seconds, createSeconds: result.createSeconds, itemsPerSecond: options.records / seconds, completed: result.completed, cpuSeconds };
}
