import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { RefineryClient, requestFetch, runRobot, type Fetch, type RobotHandle, type RobotLogger } from '@refinery/sdk';
import type { Queryable } from '../src/db/db.ts';
import { openPglite } from '../src/db/pglite.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { availableBackends, tempDir } from './support/backends.ts';
import { eventually, references } from './support/harness.ts';
import { privatePostgresUnavailable, startPrivatePostgres } from './support/privatePostgres.ts';
import { freePort } from './support/processes.ts';
import { startServe, type ServeProcess } from './support/serveProcess.ts';

// Crashes and restarts while SDK robots work a request: Refinery processes killed with SIGKILL at
// random moments (during results imports too) and restarted, and PostgreSQL restarted under them.
// Afterwards the request has completed, every item on its own, each record with one enhancement:
// nothing lost, nothing doubled, no item failed for a crash alone.
//
// The kill times and targets come from a seeded generator; REFINERY_CRASH_SEED replays them.

const seed = Number(process.env.REFINERY_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`# crash tests: seed ${seed} (REFINERY_CRASH_SEED=${seed} replays its kill times and targets)`);

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function seededRandom(start: number): () => number {
  let a = start >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
const adminKey = 'test-admin-key-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A `refinery serve` process on a port of its own, which keeps across restarts (so robots, and the
 * signed URLs it gave them, reach it again once it is back). An exit the test did not cause is a fault.
 */
class Node {
  readonly url: string;
  process: ServeProcess | null = null;
  kills = 0;
  /** Exits the test did not cause. */
  readonly crashes: string[] = [];

  constructor(
    readonly name: string,
    readonly env: Record<string, string>,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** How long each start took, in seconds. */
  readonly startTimes: number[] = [];

  async start(): Promise<void> {
    const at = Date.now();
    const proc = await startServe(`${this.name}#${this.kills}`, { ...this.env, PORT: String(this.port), REFINERY_PUBLIC_URL: this.url }, { timeoutMs: 120_000 });
    this.process = proc;
    this.startTimes.push(Math.round((Date.now() - at) / 100) / 10);
    void proc.exit.then(({ code, signal }) => {
      if (this.process === proc) this.crashes.push(`${this.name} exited on its own (${code ?? signal}):\n${proc.output().slice(-3000)}`);
    });
  }

  /** SIGKILL, as a crash; resolves once the process is gone. */
  async kill(): Promise<void> {
    const proc = this.process!;
    this.process = null;
    this.kills++;
    proc.child.kill('SIGKILL');
    await proc.exit;
  }

  async stop(): Promise<void> {
    const proc = this.process;
    this.process = null;
    await proc?.stop();
  }
}

/** A robot's call a test acts on: its results file uploaded (answered 200), or its results posted (answered 202: the import has begun). */
type RobotStep = { kind: 'uploaded' | 'posted'; url: string; batchId: string };

/** The robots' calls, seen from their side: a test may act at a step of theirs while the robot waits for the answer. */
class RobotSteps {
  #waiting: Array<{ kind: RobotStep['kind']; act: (step: RobotStep) => Promise<void> }> = [];

  /** The robots' fetch: requestFetch, holding an answer back while a test acts on it. */
  readonly fetch: Fetch = async (input, init) => {
    const res = await requestFetch(input, init);
    const step = stepOf(String(input), init?.method ?? 'GET', res.status);
    const i = step ? this.#waiting.findIndex((w) => w.kind === step.kind) : -1;
    if (i >= 0) await this.#waiting.splice(i, 1)[0].act(step!);
    return res;
  };

  /**
   * Runs `act` at the next step of `kind`, before the robot has the answer; null (and nothing
   * run) if none comes within `timeoutMs`.
   */
  at(kind: RobotStep['kind'], timeoutMs: number, act: (step: RobotStep) => Promise<void>): Promise<RobotStep | null> {
    return new Promise((resolve, reject) => {
      const waiter = {
        kind,
        act: async (step: RobotStep) => {
          clearTimeout(timer);
          await act(step).then(() => resolve(step), reject);
        },
      };
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      this.#waiting.push(waiter);
    });
  }
}

function stepOf(url: string, method: string, status: number): RobotStep | null {
  const posted = method === 'POST' && status === 202 ? /^(http:\/\/[^/]+)\/v1\/batches\/([^/]+)\/results$/.exec(url) : null;
  if (posted) return { kind: 'posted', url: posted[1], batchId: posted[2] };
  const uploaded = method === 'PUT' && status === 200 ? /^(http:\/\/[^/]+)\/v1\/blobs\/batches\/[^/]+\/([0-9a-f-]{36})\.results\.jsonl\?/.exec(url) : null;
  if (uploaded) return { kind: 'uploaded', url: uploaded[1], batchId: uploaded[2] };
  return null;
}

/** The robots' log: how many times each warning or error was written. */
function countingLogger(): RobotLogger & { counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const count = (_: object, msg: string) => void (counts[msg] = (counts[msg] ?? 0) + 1);
  return { counts, debug() {}, info() {}, warn: count, error: count };
}

/**
 * Lets the robots take on batches a few at a time, so that the faults fall all through the
 * request rather than after it: each fault lets `perFault` more batches through; after the last,
 * all the rest.
 */
class Pace {
  #allowed = 0;
  #started = 0;
  constructor(readonly perFault: number) {}
  /** Before each fault: the next share of batches may go. */
  release(all = false): void {
    this.#allowed = all ? Infinity : this.#allowed + this.perFault;
  }
  /** Waits for the batch's turn. */
  async turn(signal: AbortSignal): Promise<void> {
    const mine = this.#started++;
    while (mine >= this.#allowed && !signal.aborted) await sleep(20);
  }
}

interface Run {
  client: RefineryClient;
  requestId: string;
  recordIds: string[];
  steps: RobotSteps;
  log: ReturnType<typeof countingLogger>;
  pace: Pace;
  robots: RobotHandle[];
}

/**
 * A robot (batches of `batchSize`, 3 attempts, a lease longer than a restart takes on a loaded
 * machine) and `items` new records imported through the first node, a request for them, and two
 * SDK robots per node working it: each takes a batch's records, waits for its turn (`pace`), then
 * answers every record with one annotation. A lease whose answer a kill lost lapses before its
 * items go again: the request's end waits for it.
 */
async function startRun(nodes: Node[], o: { items: number; batchSize: number; faults: number }): Promise<Run> {
  const client = new RefineryClient({ url: nodes[0].url, apiKey: adminKey });
  const robot = await client.createRobot({ name: `crash-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_batch_size: o.batchSize, lease: 'PT2M', max_attempts: 3 });
  const imported = await client.importRecords(references(o.items));
  assert.equal(imported.ids.length, o.items);
  const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
  const steps = new RobotSteps();
  const log = countingLogger();
  const pace = new Pace(Math.max(1, Math.floor(o.items / o.batchSize / (o.faults + 1))));
  const robots = nodes.flatMap((node) =>
    [1, 2].map(() =>
      runRobot({
        url: node.url,
        robotId: robot.id,
        secret: robot.secret,
        wait: 'PT1S',
        log,
        handleSignals: false,
        fetch: steps.fetch,
        async *handleBatch(records, ctx) {
          const all = [];
          for await (const record of records) all.push(record);
          await pace.turn(ctx.signal);
          for (const record of all) yield { record_id: record.id, type: 'annotation', content: { of: record.id } };
        },
      }),
    ),
  );
  return { client, requestId: request.id, recordIds: imported.ids, steps, log, pace, robots };
}

/** Waits for the request to finish (at most `timeoutMs`), then stops the robots; answers the request and the robots' counters. */
async function finishRun(run: Run, timeoutMs: number) {
  try {
    const request = await run.client.waitForRequest(run.requestId, { intervalMs: 250, signal: AbortSignal.timeout(timeoutMs) });
    return { request, stats: run.robots.map((r) => ({ ...r.stats })), warnings: run.log.counts };
  } finally {
    await Promise.all(run.robots.map((r) => r.stop({ timeoutMs: 5_000 })));
  }
}

/** What the database says of the request: its items by status (with their most attempts), the enhancements per record, its `request.finished` events. */
async function outcome(db: Queryable, run: Run) {
  const items = await db.query<{ status: string; n: number; most_attempts: number }>(
    `select status, count(*)::int as n, max(attempts)::int as most_attempts from shown_items where request_id = $1::uuid group by status order by status`,
    [run.requestId],
  );
  const perRecord = await db.query<{ none: number; one: number; more: number }>(
    `select count(*) filter (where n = 0)::int as none, count(*) filter (where n = 1)::int as one, count(*) filter (where n > 1)::int as more
     from (select r.id, (select count(*) from enhancements e where e.record_id = r.id) as n from unnest($1::uuid[]) as r(id)) x`,
    [run.recordIds],
  );
  const finished = await db.query<{ n: number }>(`select count(*)::int as n from events where request_id = $1::uuid and type = 'request.finished'`, [run.requestId]);
  return { items: items.rows, enhancements: perRecord.rows[0], finishedEvents: finished.rows[0].n };
}

/** The checks every run ends with: the request completed, every item completed, one enhancement per record, finished once. */
function assertCompletedOnce(request: { status: string; counts: Record<string, number> }, found: Awaited<ReturnType<typeof outcome>>, n: number): void {
  assert.equal(request.status, 'completed', JSON.stringify(request.counts));
  assert.equal(request.counts.completed, n);
  assert.deepEqual(
    found.items.map((i) => [i.status, i.n]),
    [['completed', n]],
    `every item completed (none failed for a crash): ${JSON.stringify(found.items)}`,
  );
  assert.deepEqual(found.enhancements, { none: 0, one: n, more: 0 }, 'each record carries exactly one enhancement');
  assert.equal(found.finishedEvents, 1, 'the request finished once');
}

const crashesOf = (nodes: Node[]) => nodes.flatMap((n) => n.crashes);

describe('crashes and restarts under SDK robots', () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step().catch((err) => console.error('cleanup failed:', err));
  });

  it('PostgreSQL: of two processes on one database, one is killed (SIGKILL) 12 times, during results imports too, while robots work 20,000 items; all complete, once', { skip: postgres ? false : 'PostgreSQL does not answer (never skipped in CI)' }, async (t: TestContext) => {
    const random = seededRandom(seed);
    const opened = await postgres!.open();
    cleanup.push(opened.drop);
    const dir = await tempDir();
    cleanup.push(dir.remove);
    const env = { DATABASE_URL: opened.databaseUrl!, REFINERY_DATA_DIR: dir.path, REFINERY_ADMIN_KEY: adminKey, REFINERY_IMPORT_LEASE: '2', LOG_LEVEL: 'error' };
    const nodes = [new Node('A', env, await freePort()), new Node('B', env, await freePort())];
    cleanup.push(async () => void (await Promise.all(nodes.map((n) => n.stop()))));
    await Promise.all(nodes.map((n) => n.start()));

    const items = 20_000;
    const kills = 12;
    const started = Date.now();
    const run = await startRun(nodes, { items, batchSize: 500, faults: kills });
    const statusOf = async (batchId: string) => (await opened.db.query<{ status: string }>('select status from batches where id = $1::uuid', [batchId])).rows[0].status;
    /** Kills that came during a results import (the batch was `importing` once its process was gone), and between a robot's upload and its post (it was `leased`). */
    const landed = { importing: 0, beforePost: 0 };
    const killed: string[] = [];
    for (let k = 0; k < kills; k++) {
      run.pace.release();
      let node: Node | null = null;
      const kind = (['during an import', 'before a results post', 'at random'] as const)[k % 3];
      if (kind === 'at random') {
        await sleep(1_000 + random() * 2_000);
        node = nodes[Math.floor(random() * nodes.length)];
        await node.kill();
      } else {
        // At a robot's step, before it has the answer: its results posted (the process that
        // answered 202 is importing them), or its results file uploaded (its post comes next).
        const step = await run.steps.at(kind === 'during an import' ? 'posted' : 'uploaded', 60_000, async (at) => {
          node = nodes.find((n) => n.url === at.url)!;
          // An import of a batch takes a few milliseconds: a kill meant for one comes at once.
          await sleep(random() * (kind === 'during an import' ? 3 : 50));
          await node.kill();
          const status = await statusOf(at.batchId);
          if (kind === 'during an import' && status === 'importing') landed.importing++;
          if (kind === 'before a results post' && status === 'leased') landed.beforePost++;
        });
        assert.ok(step && node, `no robot step to kill ${kind} within 60 s`);
      }
      killed.push(`${node!.name} ${kind} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await sleep(random() * 500);
      await node!.start();
    }
    run.pace.release(true);
    const { request, stats, warnings } = await finishRun(run, 300_000);
    const found = await outcome(opened.db, run);
    t.diagnostic(`seed ${seed}: ${kills} kills (${landed.importing} during a results import, ${landed.beforePost} before a results post) over ${items} items in ${((Date.now() - started) / 1000).toFixed(1)} s: ${killed.join(', ')}`);
    t.diagnostic(`items: ${JSON.stringify(found.items)}; robots: ${JSON.stringify(stats)}; their warnings: ${JSON.stringify(warnings)}; starts (s): ${JSON.stringify(Object.fromEntries(nodes.map((n) => [n.name, n.startTimes])))}`);
    assert.deepEqual(crashesOf(nodes), []);
    assertCompletedOnce(request, found, items);
    assert.ok(landed.beforePost >= 2, `only ${landed.beforePost} kills came between an upload and its post`);
    assert.ok((warnings['could not post results; retrying'] ?? 0) >= landed.beforePost, 'the robots posted again the results posts that the kills lost');
    assert.ok(landed.importing >= 2, `only ${landed.importing} kills came during a results import`);
  });

  it('PostgreSQL restarts twice (a private cluster, once stopped fast and once crashed): /readyz goes unready then ready, the processes stay up, the robots carry on; all complete, once', { skip: privatePostgresUnavailable() ?? false }, async (t: TestContext) => {
    const random = seededRandom(seed + 1);
    const server = await startPrivatePostgres();
    cleanup.push(() => server.close());
    const dir = await tempDir();
    cleanup.push(dir.remove);
    // Its background loops log each failure while the database is down: only what is worse shows.
    const env = { DATABASE_URL: server.databaseUrl, REFINERY_DATA_DIR: dir.path, REFINERY_ADMIN_KEY: adminKey, REFINERY_IMPORT_LEASE: '2', LOG_LEVEL: 'fatal' };
    const nodes = [new Node('A', env, await freePort()), new Node('B', env, await freePort())];
    cleanup.push(async () => void (await Promise.all(nodes.map((n) => n.stop()))));
    await Promise.all(nodes.map((n) => n.start()));
    const readyz = (node: Node) => fetch(`${node.url}/readyz`).then((r) => r.status, () => 0);

    const items = 5_000;
    const started = Date.now();
    const run = await startRun(nodes, { items, batchSize: 250, faults: 2 });
    const restarts: string[] = [];
    // Stopped at a robot's step, before it has the answer: once fast between a results upload and
    // its post (which finds the database away), once crashed right after a post (under its import).
    for (const [mode, step] of [['fast', 'uploaded'], ['immediate', 'posted']] as const) {
      // Waiting for the step before the share is let go: a share the robots finish at once would leave none.
      const stopped = run.steps.at(step, 60_000, () => server.stop(mode));
      run.pace.release();
      assert.ok(await stopped, `no robot step to stop PostgreSQL at within 60 s`);
      for (const node of nodes) await eventually(async () => ((await readyz(node)) === 503 ? true : undefined), 10_000, `${node.name} /readyz unready`);
      await sleep(1_000 + random() * 1_000);
      await server.start();
      for (const node of nodes) await eventually(async () => ((await readyz(node)) === 200 ? true : undefined), 15_000, `${node.name} /readyz ready again`);
      restarts.push(`${mode} once ${step} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    run.pace.release(true);
    const { request, stats, warnings } = await finishRun(run, 300_000);
    const db = await openPostgres({ connectionString: server.databaseUrl, log: pino({ level: 'silent' }) });
    const found = await outcome(db, run).finally(() => db.close());
    t.diagnostic(`seed ${seed + 1}: PostgreSQL restarted (${restarts.join(', ')}) over ${items} items in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.diagnostic(`items: ${JSON.stringify(found.items)}; robots: ${JSON.stringify(stats)}; their warnings: ${JSON.stringify(warnings)}; starts (s): ${JSON.stringify(Object.fromEntries(nodes.map((n) => [n.name, n.startTimes])))}`);
    assert.deepEqual(crashesOf(nodes), [], 'no process ended for the database restarting');
    assertCompletedOnce(request, found, items);
  });

  it('PGlite: the embedded process, killed (SIGKILL) during results imports 3 times and restarted on its data directory, resumes them; all complete, once', async (t: TestContext) => {
    const random = seededRandom(seed + 2);
    const dir = await tempDir();
    cleanup.push(dir.remove);
    const env = { REFINERY_DATA_DIR: dir.path, REFINERY_ADMIN_KEY: adminKey, REFINERY_IMPORT_LEASE: '2', LOG_LEVEL: 'error' };
    const node = new Node('embedded', env, await freePort());
    cleanup.push(() => node.stop());
    await node.start();
    const pgdata = join(dir.path, 'pgdata');

    const items = 5_000;
    const kills = 3;
    const started = Date.now();
    const run = await startRun([node], { items, batchSize: 500, faults: kills });
    let duringImport = 0;
    for (let k = 0; k < kills; k++) {
      run.pace.release();
      const step = await run.steps.at('posted', 60_000, async () => {
        await sleep(random() * 50);
        await node.kill();
      });
      assert.ok(step, 'a results post within 60 s');
      const db = await openPglite(pgdata);
      try {
        const { rows } = await db.query<{ status: string }>('select status from batches where id = $1::uuid', [step.batchId]);
        if (rows[0].status === 'importing') duringImport++;
      } finally {
        await db.close();
      }
      await node.start();
    }
    run.pace.release(true);
    const { request, stats, warnings } = await finishRun(run, 300_000);
    await node.stop();
    const db = await openPglite(pgdata);
    const found = await outcome(db, run).finally(() => db.close());
    const nodes = [node];
    t.diagnostic(`seed ${seed + 2}: ${kills} kills (${duringImport} during a results import) over ${items} items in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.diagnostic(`items: ${JSON.stringify(found.items)}; robots: ${JSON.stringify(stats)}; their warnings: ${JSON.stringify(warnings)}; starts (s): ${JSON.stringify(Object.fromEntries(nodes.map((n) => [n.name, n.startTimes])))}`);
    assert.deepEqual(node.crashes, []);
    assertCompletedOnce(request, found, items);
    assert.ok(duringImport >= 2, `only ${duringImport} kills came during a results import`);
  });
});
