import type { Context } from '../context.ts';
import { leaseBatch } from '../batches/index.ts';
import { createService } from '../maintenance/index.ts';
import type { RobotRow } from '../robots/index.ts';
import { deliverBatch, type DeliveryOutcome } from './deliver.ts';
import { listPushRobotsWithWork } from './queries/listPushRobotsWithWork.ts';

export const pushDefaults = {
  /** Time between passes when no NOTIFY wakes the dispatcher (retries whose backoff ended), jittered ±20 %. */
  intervalMs: 1000,
  /** Time allowed from a POST until the robot's status line and headers (`REFINERY_PUSH_TIMEOUT`). */
  timeoutMs: 30_000,
  /** Deliveries in flight at once in this process. */
  maxInFlight: 16,
  /** Deliveries in flight at once to one robot, in this process. */
  maxInFlightPerRobot: 4,
  /** Shortest and longest Retry-After honoured; one outside is brought to the nearer bound. */
  minRetryAfterMs: 1000,
  maxRetryAfterMs: 3600_000,
  /** Push robots looked at per pass. */
  robotsPerPass: 100,
};
export type PushConfig = typeof pushDefaults;

/**
 * The push dispatcher: leases batches for push robots with the same statement pull robots use
 * (`for update skip locked`, so any number of Refinery processes dispatch at once) and POSTs
 * each to its robot (deliver.ts), several at once, bounded in total and per robot. Woken at once
 * by the NOTIFY that wakes long polls, by a delivery ending, and every `intervalMs`.
 */
export function createPushDispatcher({ ctx, config = {} }: { ctx: Context; config?: Partial<PushConfig> }) {
  const settings = { ...pushDefaults, ...config };
  const inFlight = new Set<Promise<DeliveryOutcome>>();
  const perRobot = new Map<string, number>();
  let running = false;
  /** Aborted by stop(): deliveries in flight are cut short and their batches given back. */
  let stopping = new AbortController();
  let unsubscribe: (() => void) | null = null;

  function track(robot: RobotRow, promise: Promise<DeliveryOutcome>): Promise<DeliveryOutcome> {
    perRobot.set(robot.id, (perRobot.get(robot.id) ?? 0) + 1);
    const tracked = promise.finally(() => {
      inFlight.delete(tracked);
      const left = perRobot.get(robot.id)! - 1;
      if (left === 0) perRobot.delete(robot.id);
      else perRobot.set(robot.id, left);
      if (running) kick(); // a slot is free
    });
    inFlight.add(tracked);
    return tracked;
  }

  async function deliver(robot: RobotRow, batch: Parameters<typeof deliverBatch>[2]): Promise<DeliveryOutcome> {
    const delivered = await deliverBatch(ctx, robot, batch, { ...settings, signal: stopping.signal }).catch((err) => {
      // Unexpected (the database went away…): the lease lapses and the lease-expiry service gives the items back.
      ctx.log.error({ err, batch_id: batch.id }, 'push delivery crashed; the lease will lapse');
      return { batchId: batch.id, outcome: 'failed', message: String((err as Error)?.message ?? err), status: 'none' } as const;
    });
    ctx.metrics.pushDeliveries.inc({ robot: robot.id, outcome: delivered.outcome });
    if (delivered.outcome === 'failed') ctx.metrics.pushFailures.inc({ robot: robot.id, status: delivered.status });
    return delivered;
  }

  /** Leases and starts deliveries while slots are free, one batch per robot per round; returns them. */
  async function fillOnce(): Promise<Array<Promise<DeliveryOutcome>>> {
    const started: Array<Promise<DeliveryOutcome>> = [];
    let robots = await listPushRobotsWithWork(ctx.db, { now: ctx.clock.now(), limit: settings.robotsPerPass });
    while (robots.length > 0) {
      const again: RobotRow[] = [];
      for (const robot of robots) {
        if (inFlight.size >= settings.maxInFlight) return started;
        if ((perRobot.get(robot.id) ?? 0) >= settings.maxInFlightPerRobot) continue;
        let batch;
        try {
          batch = await leaseBatch(ctx, robot, { limit: robot.max_batch_size, leaseMs: robot.lease_ms });
        } catch (err) {
          ctx.log.error({ err, robot_id: robot.id }, 'could not lease a batch to push');
          continue;
        }
        if (!batch) continue;
        started.push(track(robot, deliver(robot, batch)));
        again.push(robot);
      }
      robots = again;
    }
    return started;
  }

  // One fill at a time in this process; a wake-up during a fill asks for one more after it.
  let filling: Promise<Array<Promise<DeliveryOutcome>>> | null = null;
  let wanted = false;
  async function fill(): Promise<Array<Promise<DeliveryOutcome>>> {
    while (filling) await filling.catch(() => {});
    wanted = false;
    const current = fillOnce();
    filling = current;
    try {
      return await current;
    } finally {
      filling = null;
      if (wanted && running) kick();
    }
  }
  function kick(): void {
    if (filling) {
      wanted = true;
      return;
    }
    fill().catch((err) => ctx.log.error({ err }, 'push dispatch failed; it runs again'));
  }

  const loop = createService({ name: 'push-dispatch', intervalMs: settings.intervalMs, log: ctx.log, metrics: ctx.metrics, runOnce: async () => (await fill()).length, touched: (started) => started });

  return {
    /**
     * One pass, now: leases what the push robots have pending and delivers it; resolves with
     * the outcome of each delivery it started, once they are all settled (what tests call).
     */
    async runOnce(): Promise<DeliveryOutcome[]> {
      return Promise.all(await fill());
    },
    /** Starts dispatching: on NOTIFY, as deliveries end, and every `intervalMs`. Again does nothing. */
    start(): void {
      if (running) return;
      running = true;
      unsubscribe = ctx.work.subscribe(() => kick());
      loop.start();
      kick();
    },
    /**
     * Stops dispatching: cuts the deliveries in flight short, giving their batches back without
     * counting the attempt (a 200 already being imported finishes), and waits for that.
     * Again does nothing.
     */
    async stop(): Promise<void> {
      running = false;
      unsubscribe?.();
      unsubscribe = null;
      await loop.stop();
      await filling?.catch(() => {});
      const current = stopping;
      stopping = new AbortController();
      current.abort();
      await Promise.allSettled([...inFlight]);
    },
  };
}
export type PushDispatcher = ReturnType<typeof createPushDispatcher>;
