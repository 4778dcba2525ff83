import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ProvisionedRobot } from '@refinery/protocol';
import { retryBackoff } from '../src/batches/backoff.ts';
import { describeEachBackend, eventually, references, within, type Harness } from './support/harness.ts';

describeEachBackend('long poll', (h) => {
  it('answers a waiting lease as soon as work arrives, not when the wait ends', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const started = Date.now();
    const waiting = h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT20S');
    await new Promise((r) => setTimeout(r, 300));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
    assert.equal(created.status, 202);
    const leased = await waiting;
    const elapsed = Date.now() - started;
    assert.equal(leased.status, 200);
    assert.equal(leased.body.item_count, 1);
    // Woken by NOTIFY; the wait was 20 s.
    assert.ok(elapsed < 5000, `the lease took ${elapsed} ms`);
  });

  it('does not lose work that arrives while the lease is looking for it', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const { db, work } = h().refinery.ctx;
    const query = db.query;
    // The lease statement finds nothing (its snapshot predates the request), and the request's
    // wake-up reaches this process before the lease goes back to waiting.
    let armed = true;
    db.query = (async (sql: string, params?: readonly unknown[]) => {
      const result = await query.call(db, sql, params);
      if (!armed || !sql.includes('skip locked')) return result;
      armed = false;
      const seen = work.wakeups(robot.id);
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
      assert.equal(created.status, 202);
      await eventually(async () => (work.wakeups(robot.id) > seen ? true : undefined), 10_000, 'the wake-up');
      return result;
    }) as typeof db.query;
    // Only the wake-up can answer the lease within the test: the re-check would come after a minute.
    const recheckMs = work.recheckMs;
    work.recheckMs = 60_000;
    try {
      const leased = await within(h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT30S'), 15_000);
      assert.equal(armed, false);
      assert.ok(leased, 'the lease was still waiting 15 s later: the wake-up was lost');
      assert.equal(leased.status, 200);
      assert.equal(leased.body.item_count, 1);
    } finally {
      db.query = query;
      work.recheckMs = recheckMs;
    }
  });

  it('answers a waiting lease for a request created through the same process without waiting for its NOTIFY', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const { work } = h().refinery.ctx;
    // No NOTIFY reaches this process, and the re-check would come after a minute.
    await work.stop();
    const recheckMs = work.recheckMs;
    work.recheckMs = 60_000;
    try {
      const leasing = h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT30S');
      await new Promise((r) => setTimeout(r, 300));
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
      assert.equal(created.status, 202);
      const leased = await within(leasing, 10_000);
      assert.ok(leased, 'the lease was still waiting 10 s after the request was created');
      assert.equal(leased.status, 200);
      assert.equal(leased.body.item_count, 1);
    } finally {
      work.recheckMs = recheckMs;
      await work.start();
    }
  });

  it('answers 204 once the wait is over with nothing to do', async () => {
    const robot = await h().createRobot();
    const started = Date.now();
    const res = await h().robotCall(robot, 'POST', '/v1/batches/lease?wait=1');
    assert.equal(res.status, 204);
    assert.ok(Date.now() - started >= 900);
  });

  it("wakes the push dispatcher for a push robot's work only, and long polls for a pull robot's", async () => {
    const pull = await h().createRobot();
    const push = await h().createRobot({ delivery: { mode: 'push', url: 'http://127.0.0.1:9/unused' } });
    const ids = await h().importRecords(references(2));
    const dispatcherWoken: string[] = [];
    const unsubscribe = h().refinery.ctx.work.subscribe((robotId) => dispatcherWoken.push(robotId));
    try {
      const waiting = h().robotCall(pull, 'POST', '/v1/batches/lease?wait=PT20S');
      await new Promise((r) => setTimeout(r, 300));
      for (const [robot, recordId] of [[pull, ids[0]], [push, ids[1]]] as const) {
        const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
        assert.equal(created.status, 202);
      }
      assert.equal((await waiting).status, 200);
      const deadline = Date.now() + 5000;
      while (!dispatcherWoken.includes(push.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(dispatcherWoken, [push.id]);
    } finally {
      unsubscribe();
    }
  });
});

// Work that becomes leasable without a wake-up: a retry's backoff ending sends no NOTIFY. The
// waiting polls are looked at again, all of a process's at once, and only those with work answer.
describeEachBackend(
  'long poll, work whose backoff ends',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);

    /** A robot whose one item failed with a retryable error: pending again, leasable once its backoff is over. */
    async function robotInBackoff(harness: Harness): Promise<ProvisionedRobot> {
      const robot = await harness.createRobot({ lease: 'PT1H' });
      const [recordId] = await harness.importRecords(references(1));
      assert.equal((await harness.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } })).status, 202);
      const leased = await harness.robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(leased.status, 200);
      const failed = await harness.robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token, error: { message: 'busy', retryable: true } });
      assert.equal(failed.status, 202);
      return robot;
    }

    it('answers a waiting lease soon after the backoff of its robot ends, and keeps the others waiting', async () => {
      const { work } = h().refinery.ctx;
      const inBackoff = [await robotInBackoff(h()), await robotInBackoff(h()), await robotInBackoff(h())];
      const idle = await Promise.all(Array.from({ length: 12 }, () => h().createRobot()));
      const polls = new Map([...inBackoff, ...idle].map((robot) => [robot.id, h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT30S')]));
      await eventually(async () => ([...polls.keys()].every((id) => work.waiting(id) === 1) ? true : undefined), 10_000, 'every lease waiting');
      // Still in backoff: after two rounds of looking again, every lease still waits.
      await new Promise((r) => setTimeout(r, 2.5 * work.recheckMs));
      for (const [id, poll] of polls) assert.equal(await within(poll, 0), null, `robot ${id} was answered before there was work`);

      advance(retryBackoff.capMs + 1000);
      for (const robot of inBackoff) {
        const leased = await within(polls.get(robot.id)!, 10_000);
        assert.ok(leased, 'the lease was still waiting 10 s after the backoff ended (its wait was 30 s)');
        assert.equal(leased.status, 200);
        assert.equal(leased.body.item_count, 1);
        assert.equal(leased.body.attempt, 2);
      }
      for (const robot of idle) assert.equal(await within(polls.get(robot.id)!, 0), null, 'a robot without work was answered early');
      // New work for one of the idle robots still reaches its lease at once.
      const [recordId] = await h().importRecords(references(1));
      assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: idle[0].id, record_ids: [recordId] } })).status, 202);
      const woken = await within(polls.get(idle[0].id)!, 10_000);
      assert.equal(woken?.status, 200);
      // The rest wait on: the harness's close answers them.
    });
  },
  { manualClock: true },
);
