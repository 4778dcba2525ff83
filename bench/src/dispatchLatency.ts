/**
 * Dispatch latency: `requests` one-item requests one after another, with one robot (in a
 * process of its own, SDK RobotClient) waiting in a long poll (`lease({wait: 'PT20S', limit: 1})`),
 * and the requester (SDK RefineryClient) in another process, as in any deployment.
 * For each: the time from sending `POST /v1/requests` to the lease response arriving in the
 * robot's process (both clocks are `performance.timeOrigin + performance.now()`). Each request is
 * created once the previous one was leased and the robot's next long poll is parked in Refinery,
 * at once (`idleMs` 0, as graphileWorkerLatency adds each job once the previous completed) or
 * after `idleMs` of nothing happening.
 * With BENCH_PROFILE=1 it also prints where that time goes, step by step (dispatchTimeline).
 */
import { fork, type ChildProcess } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { ProfiledDb } from './profile.ts';
import type { Refinery } from '@refinery/server';
import { adminKey, fmt, percentile, referenceRecords, sleep, startRefinery, type Backend } from './support.ts';

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

/** The moments of one dispatch, `performance.timeOrigin + performance.now()` in each process. */
interface DispatchMarks {
  /** The requester sends `POST /v1/requests`. */
  sent: number;
  /** Refinery's HTTP server has its headers. */
  received?: number;
  /** Its route handler starts: the key checked, the body parsed and validated. */
  handled?: number;
  /** The create's statement is sent, and its answer is back (its commit included). */
  statementSent?: number;
  statementDone?: number;
  /** The lease's 200 is handed to the socket (`end` called). */
  answered?: number;
  /** The create's own 202 is handed to the socket (beside the path: the lease's may go first). */
  createAnswered?: number;
  /** The robot's process has the answer. */
  arrived?: number;
}

/**
 * BENCH_PROFILE=1: where each dispatch's time goes, from marks taken in Refinery's process (this
 * one) without touching its code: Node's HTTP server diagnostics channel, Fastify's handler
 * tracing channel (which also hands over each lease's response, whose `end` is then timed) and the
 * profiled database's statement times. Dispatches run one at a time, so each mark belongs to the
 * dispatch under way.
 */
function dispatchTimeline(profile: ProfiledDb) {
  const wall = (t = performance.now()) => performance.timeOrigin + t;
  const done: DispatchMarks[] = [];
  let current: DispatchMarks | null = null;
  const isCreate = (request: { method?: string; url?: string }) => request.method === 'POST' && request.url === '/v1/requests';
  const onRequest = (m: unknown) => {
    const { request } = m as { request: IncomingMessage };
    if (current && current.received === undefined && isCreate(request)) current.received = wall();
  };
  /** Sets `mark` when `response`'s `end` is first called with `status`. */
  const markEnd = (response: ServerResponse, mark: 'answered' | 'createAnswered', status: number) => {
    const end = response.end;
    response.end = function (this: ServerResponse, ...args: unknown[]) {
      if (current && current[mark] === undefined && response.statusCode === status) current[mark] = wall();
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['end'];
  };
  const onHandler = (m: unknown) => {
    const { request, reply } = m as { request: { method: string; url: string }; reply: { raw: ServerResponse } };
    if (current && current.handled === undefined && isCreate(request)) {
      current.handled = wall();
      markEnd(reply.raw, 'createAnswered', 202);
    }
    if (request.url.startsWith('/v1/batches/lease')) markEnd(reply.raw, 'answered', 200);
  };
  const handler = diagnostics.tracingChannel('fastify.request.handler');
  diagnostics.subscribe('http.server.request.start', onRequest);
  handler.start.subscribe(onHandler);
  profile.onStatement = (label, start, end) => {
    if (current && current.statementSent === undefined && /insertRequest\w*IfNew\.ts$/.test(label)) {
      current.statementSent = wall(start);
      current.statementDone = wall(end);
    }
  };
  const steps: Array<[string, keyof DispatchMarks, keyof DispatchMarks]> = [
    ['requester sends → Refinery has the request', 'sent', 'received'],
    ['→ route handler (key, body, validation)', 'received', 'handled'],
    ['→ create statement sent', 'handled', 'statementSent'],
    ['create statement (commit included)', 'statementSent', 'statementDone'],
    ['→ lease answer handed to the socket', 'statementDone', 'answered'],
    ['  (beside it: → the create\'s own answer handed to the socket)', 'statementDone', 'createAnswered'],
    ['→ robot has it', 'answered', 'arrived'],
    ['in all', 'sent', 'arrived'],
  ];
  return {
    /** A dispatch starts: the marks until `end` are its. */
    begin() {
      current = { sent: NaN };
    },
    /** It ended: when the requester sent it and when the robot had it. */
    end(sent: number, arrived: number) {
      if (current) done.push({ ...current, sent, arrived });
      current = null;
    },
    report(title: string): string {
      diagnostics.unsubscribe('http.server.request.start', onRequest);
      handler.start.unsubscribe(onHandler);
      profile.onStatement = null;
      const lines = steps.map(([name, from, to]) => {
        const ms = done.filter((d) => d[from] !== undefined && d[to] !== undefined).map((d) => d[to]! - d[from]!);
        return ms.length === 0 ? `  ${name}: no marks` : `  ${name}: ${fmt(percentile(ms, 50), 2)} / ${fmt(percentile(ms, 99), 2)} ms (${ms.length})`;
      });
      return [`# dispatch timeline${title}, p50 / p99 (the first and last steps cross processes)`, ...lines].join('\n');
    },
  };
}

/**
 * Resolves when a long poll of `robotId` is parked in Refinery's `WorkSignals` (its `waitFor`
 * called, wrapped here without touching Refinery's code), so that each dispatch starts with the
 * robot waiting, not after a guessed pause.
 */
function pollParked(work: Refinery['ctx']['work'], robotId: string): () => Promise<void> {
  const parked: Array<() => void> = [];
  const waitFor = work.waitFor.bind(work);
  work.waitFor = (id, ...rest) => {
    const waiting = waitFor(id, ...rest);
    if (id === robotId && work.waiting(id) > 0) for (const resolve of parked.splice(0)) resolve();
    return waiting;
  };
  return () => (work.waiting(robotId) > 0 ? Promise.resolve() : new Promise((resolve) => parked.push(resolve)));
}

export async function dispatchLatency(backend: Backend, options: { requests?: number; idleMs?: number } = {}): Promise<DispatchLatencyResult> {
  const requests = options.requests ?? 500;
  const idleMs = options.idleMs ?? 0;
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    const imported = await client.importRecords(referenceRecords(requests, `dispatch-${backend}-${Date.now()}`));
    const robot = await client.createRobot({ name: `dispatch-${backend}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: 1 });
    const robotProcess = childWithInbox(robotMain, { REFINERY_URL: url, ROBOT_ID: robot.id, ROBOT_SECRET: robot.secret });
    const requester = childWithInbox(requesterMain, { REFINERY_URL: url, API_KEY: adminKey, ROBOT_ID: robot.id });
    try {
      const robotParked = pollParked(running.refinery.ctx.work, robot.id);
      await Promise.all([robotProcess.next(), requester.next()]); // ready
      await robotParked();
      const latencies: number[] = [];
      const creates: number[] = [];
      const timeline = running.profile && dispatchTimeline(running.profile);
      for (let i = 0; i < requests; i++) {
        timeline?.begin();
        requester.child.send({ i, recordId: imported.ids[i] });
        const [created, leased] = await Promise.all([requester.next(), robotProcess.next()]);
        creates.push(created.createMs!);
        latencies.push(leased.at! - created.sent!);
        timeline?.end(created.sent!, leased.at!);
        await robotParked();
        if (idleMs > 0) await sleep(idleMs);
      }
      if (timeline) console.error(timeline.report(idleMs > 0 ? `, each after ${idleMs} ms idle` : ''));
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
