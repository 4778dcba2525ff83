/**
 * Dispatch latency: `requests` one-item requests one after another, with one robot (in a
 * process of its own, SDK RobotClient) waiting in a long poll (`lease({wait: 'PT20S', limit: 1})`).
 * For each: the time from sending `POST /v1/requests` to the lease response arriving in the
 * robot's process (both clocks are `performance.timeOrigin + performance.now()`). Each request is
 * created once the previous one was leased and the robot had `settleMs` to re-enter its poll.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile, referenceRecords, sleep, startRefinery, type Backend } from './support.ts';

export interface DispatchLatencyResult {
  backend: Backend;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** POST /v1/requests round trip alone (the create's own response), p50. */
  createP50Ms: number;
}

const robotMain = fileURLToPath(new URL('./dispatchRobot.ts', import.meta.url));

export async function dispatchLatency(backend: Backend, options: { requests?: number; settleMs?: number } = {}): Promise<DispatchLatencyResult> {
  const requests = options.requests ?? 500;
  const settleMs = options.settleMs ?? 20;
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    const imported = await client.importRecords(referenceRecords(requests, `dispatch-${backend}-${Date.now()}`));
    const robot = await client.createRobot({ name: `dispatch-${backend}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: 1 });
    const child = fork(robotMain, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, REFINERY_URL: url, ROBOT_ID: robot.id, ROBOT_SECRET: robot.secret },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const messages: Array<{ ready?: boolean; at?: number }> = [];
    let wake: (() => void) | null = null;
    child.on('message', (m) => {
      messages.push(m as { at?: number });
      wake?.();
    });
    const next = async () => {
      while (messages.length === 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('dispatch latency: no lease within 30 s')), 30_000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      return messages.shift()!;
    };
    try {
      await next(); // ready
      await sleep(1000); // the robot is in its long poll
      const latencies: number[] = [];
      const creates: number[] = [];
      for (let i = 0; i < requests; i++) {
        const sent = performance.timeOrigin + performance.now();
        await client.createRequest({ robot_id: robot.id, record_ids: [imported.ids[i]] });
        creates.push(performance.timeOrigin + performance.now() - sent);
        const leased = await next();
        latencies.push(leased.at! - sent);
        await sleep(settleMs);
      }
      return {
        backend,
        requests,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: Math.max(...latencies),
        meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
        createP50Ms: percentile(creates, 50),
      };
    } finally {
      child.disconnect();
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  } finally {
    await running.close();
  }
}
