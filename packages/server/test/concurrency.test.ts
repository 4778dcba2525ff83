import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProvisionedRobot } from '@refinery/protocol';
import { systemClock } from '../src/clock.ts';
import type { Db } from '../src/db/db.ts';
import type { Refinery } from '../src/refinery.ts';
import { availableBackends, tempDir } from './support/backends.ts';
import { eventually, makeHarness, openHarness, references, type Harness } from './support/harness.ts';
import { startServe } from './support/serveProcess.ts';

// Concurrency on real PostgreSQL (SPEC "How it runs": many processes coordinate only through
// PostgreSQL — FOR UPDATE SKIP LOCKED, LISTEN/NOTIFY — never through memory).

const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
const skip = postgres ? false : 'PostgreSQL does not answer (never skipped in CI)';

const adminKey = 'test-admin-key-0123456789';
const finalStatuses = new Set(['completed', 'completed_with_errors', 'failed', 'cancelled', 'expired']);

async function jsonLines(url: string): Promise<any[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  const text = await res.text();
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/** Downloads a leased batch, answers every record with one annotation, uploads, and hands it in. */
async function answerBatch(h: Harness, robot: ProvisionedRobot, batch: any, by: string): Promise<number> {
  const { results } = await prepareBatch(batch, by);
  await uploadResults(batch, results);
  const posted = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  return batch.item_count;
}

async function prepareBatch(batch: any, by: string): Promise<{ results: string; recordIds: string[] }> {
  const lines = await jsonLines(batch.items_url);
  assert.equal(lines.length, batch.item_count);
  const recordIds = lines.map((l) => l.record.id as string);
  const results = recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { label: 'seen', by } })).join('\n') + '\n';
  return { results, recordIds };
}

async function uploadResults(batch: any, results: string): Promise<void> {
  const put = await fetch(batch.results_url, { method: 'PUT', body: results, headers: { 'content-type': 'application/x-ndjson' } });
  assert.equal(put.status, 200);
  await put.arrayBuffer();
}

async function finalRequest(h: Harness, id: string, timeoutMs = 30_000): Promise<any> {
  return eventually(
    async () => {
      const r = await h.api('GET', `/v1/requests/${id}`);
      return finalStatuses.has(r.body.status) ? r.body : undefined;
    },
    timeoutMs,
    `request ${id} to finish`,
  );
}

async function finishedEvents(db: Db, requestId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from events where request_id = $1::uuid and type = 'request.finished'`, [requestId]);
  return rows[0].n;
}

// ---------------------------------------------------------------------------------------------

describe('concurrency on PostgreSQL', { skip }, () => {
  describe('8 concurrent leasers over 10,000 pending items', () => {
    let h: Harness;
    let refinery: Refinery;
    const cleanup: Array<() => Promise<void>> = [];

    before(async () => {
      const opened = await openHarness(postgres!);
      cleanup.unshift(opened.close);
      h = opened.harness;
      refinery = h.refinery;
    });
    after(async () => {
      for (const step of cleanup) await step().catch((err) => console.error('cleanup failed:', err));
    });

    it('never hands out an item twice, and together the leasers receive all 10,000', async (t) => {
      const robot = await h.createRobot({ max_batch_size: 100 });
      const recordIds = await h.importRecords(references(10_000));
      assert.equal(recordIds.length, 10_000);
      assert.equal(new Set(recordIds).size, 10_000);
      const created = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.equal(created.body.counts.pending, 10_000);

      const started = Date.now();
      const leaser = async () => {
        const batches: Array<{ id: string; item_count: number; recordIds: string[] }> = [];
        for (;;) {
          const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?limit=100');
          if (leased.status === 204) return batches;
          assert.equal(leased.status, 200, JSON.stringify(leased.body));
          const lines = await jsonLines(leased.body.items_url);
          batches.push({ id: leased.body.id, item_count: leased.body.item_count, recordIds: lines.map((l) => l.record.id) });
        }
      };
      const perLeaser = await Promise.all(Array.from({ length: 8 }, leaser));
      t.diagnostic(`8 leasers took ${Date.now() - started} ms; batches per leaser: ${perLeaser.map((b) => b.length).join(', ')}`);

      const batches = perLeaser.flat();
      assert.equal(new Set(batches.map((b) => b.id)).size, batches.length, 'a batch id was handed out twice');
      const seen = new Set<string>();
      const twice: string[] = [];
      for (const b of batches) {
        assert.equal(b.recordIds.length, b.item_count, `batch ${b.id}: items file lines vs item_count`);
        assert.ok(b.item_count >= 1 && b.item_count <= 100);
        for (const id of b.recordIds) {
          if (seen.has(id)) twice.push(id);
          seen.add(id);
        }
      }
      assert.deepEqual(twice, [], 'records handed out twice');
      assert.equal(seen.size, 10_000);
      assert.deepEqual([...seen].sort(), [...recordIds].sort());

      const db = refinery.ctx.db;
      const items = await db.query<{ n: number; leased: number; once: number; batches: number }>(
        `select count(*)::int as n, (count(*) filter (where status = 'leased'))::int as leased,
           (count(*) filter (where attempts = 1))::int as once, count(distinct batch_id)::int as batches
         from shown_items where request_id = $1::uuid`,
        [created.body.id],
      );
      assert.deepEqual(items.rows[0], { n: 10_000, leased: 10_000, once: 10_000, batches: batches.length });
      const sums = await db.query<{ batches: number; items: number }>(`select count(*)::int as batches, coalesce(sum(item_count), 0)::int as items from batches where robot_id = $1::uuid`, [robot.id]);
      assert.deepEqual(sums.rows[0], { batches: batches.length, items: 10_000 });
      // Each batch's stored count agrees with the items in it (its rows and its spans' items, batch_items).
      const mismatched = await db.query(
        `select b.id from batches b where b.robot_id = $1::uuid and (select count(*) from batch_items(b.id)) <> b.item_count`,
        [robot.id],
      );
      assert.equal(mismatched.rows.length, 0);

      const request = await h.api('GET', `/v1/requests/${created.body.id}`);
      assert.equal(request.body.status, 'processing');
      assert.equal(request.body.counts.leased, 10_000);
      assert.equal(request.body.counts.pending, 0);
    });
  });

  // -------------------------------------------------------------------------------------------

  describe('two Refinery processes on one database', () => {
    let db: Db;
    let a: Harness;
    let b: Harness;
    const cleanup: Array<() => Promise<void>> = [];

    before(async () => {
      const opened = await postgres!.open();
      cleanup.unshift(opened.drop);
      db = opened.db;
      const dir = await tempDir();
      cleanup.unshift(dir.remove);
      // One database, one shared data directory (file blobs; their signing key lives in the database).
      const env = { DATABASE_URL: opened.databaseUrl!, REFINERY_DATA_DIR: dir.path, REFINERY_ADMIN_KEY: adminKey, LOG_LEVEL: 'warn' };
      const [procA, procB] = await Promise.all([startServe('A', env), startServe('B', env)]);
      cleanup.unshift(async () => void (await Promise.all([procA.stop(), procB.stop()])));
      const [urlA, urlB] = [procA.url, procB.url];
      assert.notEqual(urlA, urlB);
      const base = { backend: 'postgres' as const, refinery: undefined as unknown as Refinery, adminKey, clock: systemClock, databaseUrl: opened.databaseUrl, dataDir: dir.path };
      a = makeHarness({ ...base, url: urlA });
      b = makeHarness({ ...base, url: urlB });
    });
    after(async () => {
      for (const step of cleanup) await step().catch((err) => console.error('cleanup failed:', err));
    });

    it('serve one request of 2,000 records to completion, both handing out batches', async (t) => {
      const robot = await a.createRobot({ max_batch_size: 100 });
      const recordIds = await b.importRecords(references(2_000));
      const created = await a.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const requestId = created.body.id as string;

      const started = Date.now();
      const deadline = started + 90_000;
      const robotLoop = async (h: Harness, name: string) => {
        let batches = 0;
        let items = 0;
        for (;;) {
          if (Date.now() > deadline) throw new Error(`robot ${name}: the request did not finish in time`);
          const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?limit=100&wait=PT1S');
          if (leased.status === 204) {
            const r = await h.api('GET', `/v1/requests/${requestId}`);
            if (finalStatuses.has(r.body.status)) return { batches, items };
            continue;
          }
          assert.equal(leased.status, 200, JSON.stringify(leased.body));
          items += await answerBatch(h, robot, leased.body, name);
          batches++;
        }
      };
      const [fromA, fromB] = await Promise.all([robotLoop(a, 'A'), robotLoop(b, 'B')]);
      t.diagnostic(`2,000 records through two processes in ${Date.now() - started} ms; batches A ${fromA.batches} (${fromA.items} items), B ${fromB.batches} (${fromB.items} items)`);
      assert.ok(fromA.batches >= 1, 'process A handed out no batch');
      assert.ok(fromB.batches >= 1, 'process B handed out no batch');
      assert.equal(fromA.items + fromB.items, 2_000);

      const done = await finalRequest(b, requestId);
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.completed, 2_000);
      assert.equal(done.total, 2_000);

      const perRecord = await db.query<{ records: number; wrong: number }>(
        `select count(*)::int as records, (count(*) filter (where n <> 1))::int as wrong
         from (select r.id, (select count(*) from enhancements e where e.record_id = r.id) as n from unnest($1::uuid[]) as r(id)) x`,
        [recordIds],
      );
      assert.deepEqual(perRecord.rows[0], { records: 2_000, wrong: 0 });
      assert.equal(await finishedEvents(db, requestId), 1);

      const manifestUrl = await eventually(async () => (await a.api('GET', `/v1/requests/${requestId}`)).body.manifest_url ?? undefined, 15_000, 'the manifest');
      const manifest = await jsonLines(manifestUrl);
      assert.equal(manifest.length, 2_000);
      assert.ok(manifest.every((m) => m.status === 'completed' && m.enhancement_ids.length === 1));
      assert.equal(new Set(manifest.map((m) => m.record_id)).size, 2_000);
    });

    // A functional check, not a speed target. The lease loop also re-checks every second, so this
    // alone would pass without NOTIFY; the diagnostic shows the latency (a few ms with NOTIFY).
    it('a long poll on A is answered when a request is created through B (LISTEN/NOTIFY)', async (t) => {
      const robot = await a.createRobot({ max_batch_size: 100 });
      const recordIds = await b.importRecords(references(3));
      const started = Date.now();
      const lease = a.robotCall(robot, 'POST', '/v1/batches/lease?limit=100&wait=PT10S');
      await new Promise((r) => setTimeout(r, 500));
      const created = await b.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202);
      const createdAt = Date.now();
      const leased = await lease;
      const answeredAt = Date.now();
      t.diagnostic(`lease answered ${answeredAt - started} ms after it was sent, ${answeredAt - createdAt} ms after the request was created`);
      assert.equal(leased.status, 200, 'the long poll ended without the new work');
      assert.equal(leased.body.item_count, 3);
      assert.ok(answeredAt - started < 5_000, `the long poll took ${answeredAt - started} ms (wait was 10 s)`);
    });

    // The two imports' final transactions land a few ms apart (measured 4–19 ms), so this checks the
    // invariant under real concurrency; the exactly-once guarantee itself rests on the request row lock.
    it('fan-in exactly once: two batches of one request handed in at the same moment through both processes (5 races)', async (t) => {
      const robot = await a.createRobot({ max_batch_size: 100 });
      const perBatch = 25;
      for (let race = 1; race <= 5; race++) {
        const recordIds = await a.importRecords(references(2 * perBatch));
        const created = await b.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
        assert.equal(created.status, 202);
        const requestId = created.body.id as string;

        const first = await a.robotCall(robot, 'POST', `/v1/batches/lease?limit=${perBatch}`);
        const second = await b.robotCall(robot, 'POST', `/v1/batches/lease?limit=${perBatch}`);
        assert.equal(first.status, 200);
        assert.equal(second.status, 200);
        assert.equal(first.body.item_count + second.body.item_count, 2 * perBatch);
        const [p1, p2] = await Promise.all([prepareBatch(first.body, 'A'), prepareBatch(second.body, 'B')]);
        await Promise.all([uploadResults(first.body, p1.results), uploadResults(second.body, p2.results)]);

        const [posted1, posted2] = await Promise.all([
          a.robotCall(robot, 'POST', `/v1/batches/${first.body.id}/results`, { lease_token: first.body.lease_token }),
          b.robotCall(robot, 'POST', `/v1/batches/${second.body.id}/results`, { lease_token: second.body.lease_token }),
        ]);
        assert.equal(posted1.status, 202, JSON.stringify(posted1.body));
        assert.equal(posted2.status, 202, JSON.stringify(posted2.body));

        const done = await finalRequest(a, requestId);
        assert.equal(done.status, 'completed', `race ${race}`);
        assert.equal(done.counts.completed, 2 * perBatch, `race ${race}`);
        assert.ok(done.finished_at, `race ${race}: finished_at`);
        // Let any late transaction of the other process land before counting.
        await eventually(async () => ((await b.api('GET', `/v1/requests/${requestId}`)).body.manifest_url ? true : undefined), 15_000, 'the manifest');
        const { rows } = await db.query<{ status: string; batches_done: number }>(
          `select r.status, (select count(*) from batches b where b.id in ($2::uuid, $3::uuid) and b.status = 'completed')::int as batches_done
           from requests r where r.id = $1::uuid`,
          [requestId, first.body.id, second.body.id],
        );
        assert.deepEqual(rows[0], { status: 'completed', batches_done: 2 }, `race ${race}`);
        assert.equal(await finishedEvents(db, requestId), 1, `race ${race}: request.finished events`);
      }
      t.diagnostic('5 races, each finished exactly once');
    });
  });
});
