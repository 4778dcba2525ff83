import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { ProvisionedRobot } from '@refinery/protocol';
import { describeEachBackend, eventually, references, type Harness } from './support/harness.ts';
import { finishedEvents, itemsOf, leaseRecords, uploadAnnotations } from './support/lifecycle.ts';

// POST /v1/requests/{id}/retry (docs/retrying-requests.md): a finished request's failed items
// become a new request that names it in `retry_of`; the original keeps its final state.

interface Finished {
  robot: ProvisionedRobot;
  requestId: string;
  failed: string[];
  completed: string[];
}

async function postResults(h: Harness, robot: ProvisionedRobot, batch: { id: string; lease_token: string }): Promise<void> {
  const res = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await h.refinery.background.drain();
}

async function finalRequest(h: Harness, id: string): Promise<any> {
  return eventually(async () => {
    const res = await h.api('GET', `/v1/requests/${id}`);
    return ['received', 'processing'].includes(res.body.status) ? undefined : res.body;
  });
}

/** A request of `n` records whose robot fails the last `failing` of them (not retryable), finished. */
async function finishedWithFailures(h: Harness, n: number, failing: number, key?: string): Promise<Finished> {
  const robot = await h.createRobot({ max_attempts: 1 });
  const recordIds = await h.importRecords(references(n));
  const created = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds, priority: 'high' }, key });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const batch = (await leaseRecords(h, robot, n))!;
  const completed = batch.recordIds.slice(0, n - failing);
  const failed = batch.recordIds.slice(n - failing);
  const lines = [
    ...completed.map((id) => ({ record_id: id, type: 'annotation', content: { ok: true } })),
    ...failed.map((id) => ({ record_id: id, error: { message: 'the model timed out' } })),
  ];
  const put = await fetch(batch.results_url, { method: 'PUT', body: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' });
  assert.equal(put.status, 200);
  await postResults(h, robot, batch);
  const request = await finalRequest(h, created.body.id);
  assert.equal(request.counts.failed, failing);
  return { robot, requestId: created.body.id, failed, completed };
}

async function retriesOf(h: Harness, requestId: string): Promise<string[]> {
  const res = await h.api('GET', '/v1/requests?limit=1000');
  return res.body.data.filter((r: { retry_of: string | null }) => r.retry_of === requestId).map((r: { id: string }) => r.id);
}

describeEachBackend('retrying a request', (h) => {
  it("makes a new request of the failed items, which a robot then completes; the original keeps its final state, manifest and event", async () => {
    const { robot, requestId, failed } = await finishedWithFailures(h(), 5, 2);
    const before = (await h().api('GET', `/v1/requests/${requestId}`)).body;
    assert.equal(before.status, 'completed_with_errors');

    const retry = await h().api('POST', `/v1/requests/${requestId}/retry`);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.notEqual(retry.body.id, requestId);
    assert.equal(retry.headers.get('location'), `/v1/requests/${retry.body.id}`);
    assert.equal(retry.body.retry_of, requestId);
    assert.equal(retry.body.robot_id, robot.id);
    assert.equal(retry.body.requested_by, before.requested_by);
    assert.equal(retry.body.priority, 'high', "the original's priority");
    assert.equal(retry.body.total, 2);
    assert.equal(retry.body.counts.pending, 2);
    assert.deepEqual((await itemsOf(h(), retry.body.id)).map((i) => i.record_id).sort(), [...failed].sort());

    const batch = (await leaseRecords(h(), robot, 10))!;
    assert.deepEqual([...batch.recordIds].sort(), [...failed].sort());
    await uploadAnnotations(batch);
    await postResults(h(), robot, batch);
    const done = await finalRequest(h(), retry.body.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.counts.completed, 2);
    assert.ok(done.manifest_url);
    for (const id of failed) assert.equal((await h().api('GET', `/v1/records/${id}`)).body.enhancements.length, 1);

    const after = (await h().api('GET', `/v1/requests/${requestId}`)).body;
    assert.equal(after.status, 'completed_with_errors');
    assert.deepEqual(after.counts, before.counts);
    assert.equal(after.finished_at, before.finished_at);
    assert.equal((await finishedEvents(h(), requestId)).length, 1);
    assert.equal((await finishedEvents(h(), retry.body.id)).length, 1);
  });

  it('the same call again answers the same retry (200), at once or after it finished, and makes no other', async () => {
    const { requestId, failed } = await finishedWithFailures(h(), 4, 3);
    const body = { record_ids: [failed[2], failed[0]] };
    // Two at the same moment: one makes the retry, the other finds it.
    const [a, b] = await Promise.all([
      h().api('POST', `/v1/requests/${requestId}/retry`, { body }),
      h().api('POST', `/v1/requests/${requestId}/retry`, { body: { record_ids: [failed[0], failed[2]] } }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 202], JSON.stringify([a.body, b.body]));
    assert.equal(a.body.id, b.body.id);
    assert.equal(a.body.total, 2);
    const again = await h().api('POST', `/v1/requests/${requestId}/retry`, { body });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, a.body.id);
    assert.deepEqual(await retriesOf(h(), requestId), [a.body.id]);

    // Another choice of items: refused, naming the retry there is.
    const other = await h().api('POST', `/v1/requests/${requestId}/retry`);
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, 'already_retried');
    assert.equal(other.body.error.details.retry_id, a.body.id);
    assert.deepEqual(await retriesOf(h(), requestId), [a.body.id]);
  });

  it('refuses to retry items that are not failed, naming each, and changes nothing', async () => {
    const { requestId, failed, completed } = await finishedWithFailures(h(), 3, 1);
    const stranger = randomUUID();
    const res = await h().api('POST', `/v1/requests/${requestId}/retry`, { body: { record_ids: [failed[0], completed[0], stranger] } });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'items_not_failed');
    assert.match(res.body.error.message, new RegExp(`${completed[0]} \\(completed\\)`));
    assert.match(res.body.error.message, new RegExp(`${stranger} \\(not in this request\\)`));
    assert.deepEqual(res.body.error.details, [
      { record_id: completed[0], status: 'completed' },
      { record_id: stranger, status: null },
    ]);
    assert.deepEqual(await retriesOf(h(), requestId), []);
    // The failed one alone is fine.
    assert.equal((await h().api('POST', `/v1/requests/${requestId}/retry`, { body: { record_ids: [failed[0]] } })).status, 202);
  });

  it('refuses a request still running, one without failed items, and bad input, with a 4xx that changes nothing', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(2));
    const running = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    const clean = await finishedWithFailures(h(), 2, 0);
    const { requestId } = await finishedWithFailures(h(), 2, 1);
    const requestsBefore = (await h().api('GET', '/v1/requests?limit=1000')).body.data.length;
    const retry = (id: string, body?: unknown) => h().api('POST', `/v1/requests/${id}/retry`, { body });
    const cases: Array<{ name: string; status: number; code: string; send: () => ReturnType<Harness['api']>; message?: RegExp }> = [
      { name: 'a request still running', status: 409, code: 'request_not_finished', message: /still (received|processing)/, send: () => retry(running.body.id) },
      { name: 'a request without failed items', status: 409, code: 'nothing_to_retry', message: /no failed items/, send: () => retry(clean.requestId) },
      { name: 'an unknown request', status: 404, code: 'not_found', send: () => retry(randomUUID()) },
      { name: 'an id that is not a UUID', status: 400, code: 'invalid_request', send: () => retry('latest') },
      { name: 'an unknown field', status: 400, code: 'invalid_request', send: () => retry(requestId, { robot_id: robot.id }) },
      { name: 'record_ids empty', status: 400, code: 'invalid_request', send: () => retry(requestId, { record_ids: [] }) },
      { name: 'record_ids not UUIDs', status: 400, code: 'invalid_request', send: () => retry(requestId, { record_ids: ['r1'] }) },
      { name: 'an unknown priority', status: 400, code: 'invalid_request', send: () => retry(requestId, { priority: 'urgent' }) },
      { name: 'a deadline in the past', status: 422, code: 'expires_in_past', send: () => retry(requestId, { expires_at: '2001-01-01T00:00:00Z' }) },
      { name: 'ttl and expires_at', status: 422, code: 'ttl_and_expires_at', send: () => retry(requestId, { ttl: 'PT1H', expires_at: '2100-01-01T00:00:00Z' }) },
      { name: 'a body that is not JSON', status: 400, code: 'malformed_json', send: () => h().api('POST', `/v1/requests/${requestId}/retry`, { raw: '{', headers: { 'content-type': 'application/json' } }) },
    ];
    for (const c of cases) {
      const res = await c.send();
      assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, c.code, c.name);
      if (c.message) assert.match(res.body.error.message, c.message, c.name);
    }
    assert.equal((await h().api('GET', '/v1/requests?limit=1000')).body.data.length, requestsBefore);
  });

  it("refuses while the robot is paused, and takes the retry's own deadline once it is resumed", async () => {
    const { robot, requestId } = await finishedWithFailures(h(), 2, 1);
    assert.equal((await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: false } })).status, 200);
    const paused = await h().api('POST', `/v1/requests/${requestId}/retry`);
    assert.equal(paused.status, 422);
    assert.equal(paused.body.error.code, 'robot_paused');
    assert.deepEqual(await retriesOf(h(), requestId), []);
    assert.equal((await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: true } })).status, 200);
    const retry = await h().api('POST', `/v1/requests/${requestId}/retry`, { body: { ttl: 'PT1H', priority: 'low' } });
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.priority, 'low');
    const deadline = Date.parse(retry.body.expires_at) - Date.parse(retry.body.created_at);
    assert.equal(deadline, 3600_000);
  });

  it('writes a retry of more failed items than a slice in slices, as any large request', async () => {
    const robot = await h().createRobot({ max_attempts: 1 });
    const recordIds = await h().importRecords(references(250));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    const batch = (await leaseRecords(h(), robot, 250))!;
    const failed = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token, error: { message: 'the model is down', retryable: false } });
    assert.equal(failed.status, 202);
    assert.equal((await finalRequest(h(), created.body.id)).status, 'failed');

    const slice = h().refinery.ctx.config.createSlice;
    h().refinery.ctx.config.createSlice = 100;
    let retry;
    try {
      retry = await h().api('POST', `/v1/requests/${created.body.id}/retry`);
    } finally {
      h().refinery.ctx.config.createSlice = slice;
    }
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.total, 250);
    await h().refinery.background.drain();
    const items = await h().api('GET', `/v1/requests/${retry.body.id}/items?limit=1000`);
    assert.deepEqual(items.body.data.map((i: { record_id: string }) => i.record_id).sort(), [...recordIds].sort());
    assert.ok(items.body.data.every((i: { status: string; attempts: number }) => i.status === 'pending' && i.attempts === 0));
  });

  it('lists requests newest first, page after page', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } })).body.id);
    const first = await h().api('GET', `/v1/requests?robot_id=${robot.id}&limit=2`);
    const second = await h().api('GET', `/v1/requests?robot_id=${robot.id}&limit=2&cursor=${first.body.next_cursor}`);
    assert.deepEqual([...first.body.data, ...second.body.data].map((r: { id: string }) => r.id), made.reverse());
    assert.equal(second.body.next_cursor, null);
  });
});
