import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, references } from './support/harness.ts';

// Idempotency (issue 3, point 5): POST /v1/requests with an Idempotency-Key already used with the
// same body returns the original request and creates nothing; with another body, 422; concurrent
// duplicates create exactly one request.
describeEachBackend('idempotency', (h) => {
  let keyCounter = 0;
  const newKey = () => `key-${Date.now()}-${++keyCounter}`;

  /** Items of every request the admin can see: what "nothing new created" is measured by. */
  async function totals(): Promise<{ requests: number; items: number }> {
    const list = await h().api('GET', '/v1/requests?limit=1000');
    assert.equal(list.status, 200);
    return { requests: list.body.data.length, items: list.body.data.reduce((n: number, r: { total: number }) => n + r.total, 0) };
  }

  it('the same key with the same body returns the original request and creates nothing', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords(references(3));
    const key = newKey();
    const body = { robot_id: robot.id, record_ids: ids, priority: 'high' };

    const first = await h().api('POST', '/v1/requests', { body, headers: { 'idempotency-key': key } });
    assert.equal(first.status, 202);
    const before = await totals();

    // The same body with its fields in another order is the same body.
    const again = await h().api('POST', '/v1/requests', { body: { priority: 'high', record_ids: ids, robot_id: robot.id }, headers: { 'idempotency-key': key } });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.total, 3);
    assert.equal(again.headers.get('location'), `/v1/requests/${first.body.id}`);
    assert.deepEqual(await totals(), before);

    // Only one batch's worth of work exists.
    const lease = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(lease.body.item_count, 3);
    assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease')).status, 204);

    // Still the original once work has started on it.
    const later = await h().api('POST', '/v1/requests', { body, headers: { 'idempotency-key': key } });
    assert.equal(later.status, 200);
    assert.equal(later.body.id, first.body.id);
    assert.equal(later.body.status, 'processing');
  });

  it('the same key with another body is 422 idempotency_key_reused and creates nothing', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords(references(2));
    const key = newKey();
    const first = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids }, headers: { 'idempotency-key': key } });
    assert.equal(first.status, 202);
    const before = await totals();

    for (const other of [{ robot_id: robot.id, record_ids: [ids[0]] }, { robot_id: robot.id, record_ids: ids, priority: 'low' }]) {
      const res = await h().api('POST', '/v1/requests', { body: other, headers: { 'idempotency-key': key } });
      assert.equal(res.status, 422);
      assert.equal(res.body.error.code, 'idempotency_key_reused');
      assert.match(res.body.error.message, /different body/);
    }
    assert.deepEqual(await totals(), before);

    // Another key, or no key, creates a new request.
    const fresh = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [ids[0]] }, headers: { 'idempotency-key': newKey() } });
    assert.equal(fresh.status, 202);
    assert.notEqual(fresh.body.id, first.body.id);
  });

  it('keys belong to their requester: another requester may use the same key', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords(references(1));
    const other = await h().api('POST', '/v1/api-keys', { body: { name: `requester-${Date.now()}`, role: 'requester' } });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    const key = newKey();
    const body = { robot_id: robot.id, record_ids: ids };
    const mine = await h().api('POST', '/v1/requests', { body, headers: { 'idempotency-key': key } });
    const theirs = await h().api('POST', '/v1/requests', { body, key: other.body.key, headers: { 'idempotency-key': key } });
    assert.equal(mine.status, 202);
    assert.equal(theirs.status, 202);
    assert.notEqual(theirs.body.id, mine.body.id);
  });

  it('10 concurrent duplicates create exactly one request, and every one of them answers with it', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords(references(500));
    const key = newKey();
    const before = await totals();
    const body = { robot_id: robot.id, record_ids: ids };

    const answers = await Promise.all(Array.from({ length: 10 }, () => h().api('POST', '/v1/requests', { body, headers: { 'idempotency-key': key } })));
    for (const a of answers) assert.ok(a.status === 200 || a.status === 202, `${a.status} ${JSON.stringify(a.body)}`);
    assert.equal(answers.filter((a) => a.status === 202).length, 1, 'exactly one creates');
    const ids_ = new Set(answers.map((a) => a.body.id));
    assert.equal(ids_.size, 1, 'every duplicate answers with the original request');
    for (const a of answers) assert.equal(a.body.total, 500);

    assert.deepEqual(await totals(), { requests: before.requests + 1, items: before.items + 500 });
  });
});
