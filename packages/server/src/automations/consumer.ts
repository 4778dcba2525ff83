import type { Context } from '../context.ts';
import { AppError } from '../errors.ts';
import { newId } from '../ids.ts';
import { createService, type Service } from '../maintenance/index.ts';
import { createRequest, RecordIdList } from '../requests/index.ts';
import { claimOutbox, deleteOutbox } from './queries/claimOutbox.ts';
import { claimUnmadeRuns, failRun, setRunRequest, type UnmadeRun } from './queries/claimUnmadeRuns.ts';
import { gatherRun, listWaitingMatches } from './queries/gatherRun.ts';
import { listActiveAutomations } from './queries/listActiveAutomations.ts';
import { matchOutbox } from './queries/matchOutbox.ts';

export const consumerDefaults = {
  /** Longest time between passes (jittered ±20 %); a short window makes it shorter (a quarter of the window). */
  intervalMs: 1000,
  /** Outbox rows claimed per transaction; a pass takes them until none is left. */
  outboxLimit: 100,
  /** Runs claimed at once for making their requests. */
  runLimit: 20,
  /** How long a process making a run's request holds it; past it (the process died) another makes it, and finds the first by its idempotency key. */
  claimMs: 60_000,
};
export type ConsumerConfig = typeof consumerDefaults;

export interface ConsumeResult {
  /** Outbox rows matched (and deleted). */
  consumed: number;
  /** Records matched to automations. */
  matched: number;
  /** Requests made. */
  requests: number;
}

/** The idempotency key of a run's request: making it twice (two processes, or again after a crash) makes one. */
export const runIdempotencyKey = (runId: string) => `automation-run:${runId}`;

/**
 * The automations' consumer (docs/automations.md), in three steps, each safe in any number of
 * processes at once:
 * 1. match: claims outbox rows (`for update skip locked`), adds the records they touched that fire
 *    each active automation to its matches, and deletes the rows, in one transaction: an import is
 *    matched once, and one whose process died before it was matched is matched by another;
 * 2. gather: an automation whose earliest match is a window old, or whose matches fill a window,
 *    has them made into a run in one statement;
 * 3. make: each run's request is made through the ordinary create (createRequest), with the run's
 *    idempotency key: a run made twice is one request.
 * Besides its interval, a pass runs when the earliest window closes.
 * Why the request is not made in the matching transaction: docs/internals/0024-automations-outbox.md.
 */
export function createAutomationConsumer({ ctx, config = {} }: { ctx: Context; config?: Partial<ConsumerConfig> }): Service<ConsumeResult> {
  const windowMs = ctx.config.automationWindowMs;
  const settings = { ...consumerDefaults, intervalMs: Math.max(10, Math.min(consumerDefaults.intervalMs, windowMs / 4)), ...config };
  let started = false;
  let cancelDue: (() => void) | null = null;
  let dueAt = Infinity;
  let passing: Promise<void> | null = null;

  async function match(): Promise<{ consumed: number; matched: number }> {
    const total = { consumed: 0, matched: 0 };
    for (;;) {
      const now = ctx.clock.now();
      const step = await ctx.db.transaction(async (tx) => {
        const ids = await claimOutbox(tx, { limit: settings.outboxLimit });
        if (ids.length === 0) return null;
        let matched = 0;
        for (const automation of await listActiveAutomations(tx)) {
          matched += await matchOutbox(tx, { automation, outboxIds: ids, maxDepth: ctx.config.automationMaxDepth, now });
        }
        await deleteOutbox(tx, { ids });
        return { consumed: ids.length, matched };
      });
      if (!step) return total;
      total.consumed += step.consumed;
      total.matched += step.matched;
      if (step.consumed < settings.outboxLimit) return total;
    }
  }

  /** Closes the windows that are due; returns the runs made, and arms a pass for when the next closes. */
  async function gather(): Promise<string[]> {
    const now = ctx.clock.now();
    const runs: string[] = [];
    let next = Infinity;
    for (const waiting of await listWaitingMatches(ctx.db)) {
      const closesAt = new Date(waiting.first_at).getTime() + windowMs;
      if (closesAt > now.getTime() && waiting.waiting < ctx.config.automationWindowItems) {
        next = Math.min(next, closesAt);
        continue;
      }
      // A window of more than a request's worth: one run per window's worth of items.
      for (let left = waiting.waiting; left > 0; left -= ctx.config.automationWindowItems) {
        const run = await gatherRun(ctx.db, { automationId: waiting.automation_id, runId: newId(), limit: ctx.config.automationWindowItems, now });
        if (!run) break;
        runs.push(run);
      }
    }
    armDue(next);
    return runs;
  }

  async function make(run: UnmadeRun): Promise<boolean> {
    const now = ctx.clock.now();
    if (!run.robot_id || !run.created_by) {
      await failRun(ctx.db, { id: run.id, error: 'the automation was deleted before its request was made', now });
      return false;
    }
    const recordIds = new RecordIdList();
    for (const id of run.record_ids) recordIds.push(id);
    try {
      const { request } = await createRequest(ctx, {
        body: { robot_id: run.robot_id, record_ids: recordIds },
        requestedBy: run.created_by,
        idempotencyKey: runIdempotencyKey(run.id),
      });
      await setRunRequest(ctx.db, { id: run.id, requestId: request.id });
      return true;
    } catch (err) {
      // The caller's kind of mistake (the robot paused or deleted since): the run says why and the automation's last error too.
      if (!(err instanceof AppError) || err.statusCode >= 500) throw err;
      await failRun(ctx.db, { id: run.id, error: `no request was made: ${err.message}`, now });
      return false;
    }
  }

  async function makeRuns(ids: string[] | null): Promise<number> {
    let made = 0;
    for (;;) {
      const runs = await claimUnmadeRuns(ctx.db, { ids, limit: settings.runLimit, claimMs: settings.claimMs, now: ctx.clock.now() });
      for (const run of runs) if (await make(run)) made++;
      if (runs.length < settings.runLimit) return made;
    }
  }

  async function pass(): Promise<ConsumeResult> {
    const matched = await match();
    const gathered = await gather();
    // This pass's runs first, then any a process left unmade (it died between gathering and making).
    const requests = (gathered.length > 0 ? await makeRuns(gathered) : 0) + (await makeRuns(null));
    if (requests > 0) ctx.log.info({ requests }, 'automations made requests');
    return { ...matched, requests };
  }

  /** One pass at a time in a process: the loop's and the window's. */
  function runOnce(): Promise<ConsumeResult> {
    const run = (passing ?? Promise.resolve()).then(pass);
    // What the next pass waits on: never a rejection (a failed pass is the caller's to see).
    const settled: Promise<void> = run.then(
      () => {},
      () => {},
    );
    passing = settled;
    void settled.then(() => {
      if (passing === settled) passing = null;
    });
    return run;
  }

  function armDue(at: number): void {
    if (!started || at >= dueAt) return;
    cancelDue?.();
    dueAt = at;
    cancelDue = ctx.clock.at(new Date(at), () => {
      cancelDue = null;
      dueAt = Infinity;
      runOnce().catch((err) => ctx.log.error({ err }, 'automations failed; they run again'));
    });
  }

  const loop = createService({ name: 'automations', intervalMs: settings.intervalMs, log: ctx.log, metrics: ctx.metrics, runOnce, touched: (r) => r.consumed });
  return {
    name: loop.name,
    runOnce,
    start() {
      started = true;
      loop.start();
    },
    async stop() {
      started = false;
      cancelDue?.();
      cancelDue = null;
      dueAt = Infinity;
      await loop.stop();
      await passing?.catch(() => {});
    },
  };
}
export type AutomationConsumer = ReturnType<typeof createAutomationConsumer>;
