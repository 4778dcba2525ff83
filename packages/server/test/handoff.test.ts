import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, eventually, references } from './support/harness.ts';
import { createRequest, leaseRecords, uploadAnnotations } from './support/lifecycle.ts';

// A request created while its robot waits in a long poll in the same process is leased to that
// poll in the create's own statement (docs/dispatch.md).
describeEachBackend('lease in the create', (h) => {
  /** What a waiting lease asks for, as the lease route passes it when it parks. */
  const terms = { limit: 10, leaseMs: 60_000, needs: [] };

  it("leases a new request's first items to the waiting long poll in the statement that creates them", async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(3));
    const { work, db } = h().refinery.ctx;
    const waiting = h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT20S&limit=2');
    await eventually(async () => (work.waiting(robot.id) > 0 ? true : undefined), 10_000, 'the long poll');

    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(created.status, 202);
    // Started already: its first two items went to the poll (its limit), the third waits.
    assert.equal(created.body.status, 'processing');
    assert.equal(created.body.started_at, created.body.created_at);
    assert.deepEqual([created.body.counts.leased, created.body.counts.pending], [2, 1]);

    const leased = await waiting;
    assert.equal(leased.status, 200);
    assert.equal(leased.body.item_count, 2);
    assert.equal(leased.body.attempt, 1);
    const lines = (await (await fetch(leased.body.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.record.id),
      recordIds.slice(0, 2),
    );
    assert.ok(lines.every((l) => l.record.content.title.startsWith('Reference ') && l.record.enhancements.length === 0));

    // Stored as answered, with one request.started event, as after a first lease.
    const stored = (await h().api('GET', `/v1/requests/${created.body.id}`)).body;
    assert.equal(stored.status, 'processing');
    assert.deepEqual([stored.counts.leased, stored.counts.pending], [2, 1]);
    const events = await db.query<{ type: string }>(`select type from events where request_id = $1::uuid`, [created.body.id]);
    assert.deepEqual(
      events.rows.map((e) => e.type),
      ['request.started'],
    );

    // The third item is the next lease's; the request completes like any other.
    const next = await leaseRecords(h(), robot, 10);
    assert.deepEqual(next?.recordIds, [recordIds[2]]);
    const first = { ...leased.body, recordIds: recordIds.slice(0, 2) };
    for (const batch of [first, next!]) {
      await uploadAnnotations(batch);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
    }
    const done = await eventually(async () => {
      const r = (await h().api('GET', `/v1/requests/${created.body.id}`)).body;
      return r.status === 'completed' ? r : undefined;
    });
    assert.equal(done.counts.completed, 3);
  });

  it('answers the create only once its commit, which the robot did not wait for, is on disk', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(1));
    const { work, db } = h().refinery.ctx;
    // What reaches the database, and when each statement ended.
    const ended: Array<{ sql: string; at: number }> = [];
    const query = db.query;
    db.query = (async (...args: Parameters<typeof query>) => {
      const result = await query.apply(db, args);
      ended.push({ sql: args[0], at: performance.now() });
      return result;
    }) as typeof query;
    try {
      const waiting = h().robotCall(robot, 'POST', '/v1/batches/lease?wait=PT20S');
      await eventually(async () => (work.waiting(robot.id) > 0 ? true : undefined), 10_000, 'the long poll');
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      const answeredAt = performance.now();
      assert.equal(created.status, 202);
      assert.equal((await waiting).body.item_count, 1);
      const create = ended.findIndex((s) => s.sql.includes('insert into items'));
      const flush = ended.findIndex((s) => s.sql.includes('pg_logical_emit_message'));
      assert.ok(create >= 0 && ended[create].sql.includes(`set_config('synchronous_commit', 'off', true)`), 'the create commits without waiting for the flush');
      assert.ok(flush > create, 'a flush follows the create');
      assert.ok(ended[flush].at < answeredAt, 'the flush is done before the 202 arrives');
    } finally {
      db.query = query;
    }
  });

  it("leaves the items pending when the robot has other work available: a lease takes that first", async () => {
    const robot = await h().createRobot();
    const [older, newer] = await h().importRecords(references(2));
    await createRequest(h(), { robot_id: robot.id, record_ids: [older] });
    // A long poll does not wait while work is available; this one is parked by hand, as the lease
    // route parks it, to stand for one that looked just before the older request was committed.
    const { work } = h().refinery.ctx;
    const parked = work.waitFor(robot.id, 10_000, work.wakeups(robot.id), undefined, terms);

    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [newer] } });
    assert.equal(created.status, 202);
    assert.equal(created.body.status, 'received');
    assert.equal(created.body.counts.pending, 1);
    // Handed nothing: it looks for work itself, and finds the older request's item first.
    assert.equal(await parked, null);
    assert.deepEqual((await leaseRecords(h(), robot, 1))?.recordIds, [older]);
    assert.deepEqual((await leaseRecords(h(), robot, 1))?.recordIds, [newer]);
  });

  it('gives the batch back when the long poll ended while the create ran: its items are leased next, no attempt spent', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const { work, db } = h().refinery.ctx;
    const closed = new AbortController();
    const parked = work.waitFor(robot.id, 10_000, work.wakeups(robot.id), closed.signal, terms);
    // The robot's connection closes while the statement that leases to it runs.
    const query = db.query;
    db.query = (async (sql: string, params?: readonly unknown[], options?: object) => {
      const result = await query.call(db, sql, params, options);
      if (sql.includes('insert into requests')) closed.abort();
      return result;
    }) as typeof db.query;
    let created;
    try {
      created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
    } finally {
      db.query = query;
    }
    assert.equal(created.status, 202);
    assert.equal(await parked, null);

    const released = await db.query<{ status: string; error_message: string }>(`select status, error_message from batches where robot_id = $1::uuid`, [robot.id]);
    assert.deepEqual(released.rows, [{ status: 'expired', error_message: 'the long poll it was leased to had ended' }]);
    const stored = (await h().api('GET', `/v1/requests/${created.body.id}`)).body;
    assert.deepEqual([stored.counts.leased, stored.counts.pending], [0, 1]);
    const next = await leaseRecords(h(), robot, 10);
    assert.deepEqual(next?.recordIds, [recordId]);
    const items = (await h().api('GET', `/v1/requests/${created.body.id}/items`)).body.data;
    assert.equal(items[0].attempts, 1);
  });
});
