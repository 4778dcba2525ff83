/**
 * Dispatch latency: `requests` one-item requests one after another, with one robot (in a
 * process of its own, SDK RobotClient) waiting in a long poll (`lease({wait: 'PT20S', limit: 1})`),
 * and the requester (SDK RefineryClient) in another process, as in any deployment.
 * For each: the time from sending `POST /v1/requests` to the lease response arriving in the
 * robot's process (both clocks are `performance.timeOrigin + performance.now()`). Each request is
 * created once the previous one was leased and the robot had `settleMs` to re-enter its poll.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { adminKey, percentile, referenceRecords, sleep, startRefinery, type Backend } from './support.ts';

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
const requesterMain = fileURLToPath(new URL('./dispatchRequester.ts', import.meta.url));

interface ChildMessage {
  ready?: boolean;
  /** Robot: when the lease response arrived. */
  at?: number;
  /** Requester: when it sent the create, and the create's round trip. */
  sent?: number;
  createMs?: number;
}

/** A child process running `main` under tsx, with its messages queued for `next()`. */
function childWithInbox(main: string, env: Record<string, string>): { child: ChildProcess; next(): Promise<ChildMessage>; stop(): Promise<void> } {
  const child = fork(main, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const inbox: ChildMessage[] = [];
  let wake: (() => void) | null = null;
  child.on('message', (m) => {
    inbox.push(m as ChildMessage);
    wake?.();
  });
  return {
    child,
    async next() {
      while (inbox.length === 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`dispatch latency: nothing from ${main} within 30 s`)), 30_000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      return inbox.shift()!;
    },
    async stop() {
      child.disconnect();
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}

export async function dispatchLatency(backend: Backend, options: { requests?: number; settleMs?: number } = {}): Promise<DispatchLatencyResult> {
  const requests = options.requests ?? 500;
  const settleMs = options.settleMs ?? 20;
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    const imported = await client.importRecords(referenceRecords(requests, `dispatch-${backend}-${Date.now()}`));
    const robot = await client.createRobot({ name: `dispatch-${backend}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: 1 });
    const robotProcess = childWithInbox(robotMain, { REFINERY_URL: url, ROBOT_ID: robot.id, ROBOT_SECRET: robot.secret });
    const requester = childWithInbox(requesterMain, { REFINERY_URL: url, API_KEY: adminKey, ROBOT_ID: robot.id });
    try {
      await Promise.all([robotProcess.next(), requester.next()]); // ready
      await sleep(1000); // the robot is in its long poll
      const latencies: number[] = [];
      const creates: number[] = [];
      for (let i = 0; i < requests; i++) {
        requester.child.send({ i, recordId: imported.ids[i] });
        const [created, leased] = await Promise.all([requester.next(), robotProcess.next()]);
        creates.push(created.createMs!);
        latencies.push(leased.at! - created.sent!);
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
      await Promise.all([robotProcess.stop(), requester.stop()]);
    }
  } finally {
    await running.close();
  }
}
