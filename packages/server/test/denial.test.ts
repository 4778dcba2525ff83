import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, references } from './support/harness.ts';

// Type validation and denial (issue 3, point 10): an item whose record type the robot does not
// accept is denied at creation with a reason naming both types; a request for a paused or
// unknown robot is refused with 422 and creates nothing.
describeEachBackend('denial', (h) => {
  const requestCount = async () => (await h().api('GET', '/v1/requests?limit=1000')).body.data.length;

  it('denies an item whose record type the robot does not accept, naming both types, and never hands it out', async () => {
    const robot = await h().createRobot({ accepts: ['reference'] });
    const [reference] = await h().importRecords(references(1));
    const [photo] = await h().importRecords([{ type: 'photo', identifiers: [{ type: 'asset', value: `denial-${Date.now()}` }] }]);
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [photo, reference] } });
    assert.equal(created.status, 202);
    assert.deepEqual({ pending: created.body.counts.pending, denied: created.body.counts.denied, total: created.body.total }, { pending: 1, denied: 1, total: 2 });

    const items = (await h().api('GET', `/v1/requests/${created.body.id}/items`)).body.data;
    const denied = items.find((i: { record_id: string }) => i.record_id === photo);
    assert.equal(denied.status, 'denied');
    assert.deepEqual(denied.error, { code: 'type_not_accepted', message: 'the robot accepts reference records; this record is a photo' });
    assert.equal(denied.attempts, 0);

    // Only the reference is leased.
    const lease = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(lease.status, 200);
    assert.equal(lease.body.item_count, 1);
    const lines = (await (await fetch(lease.body.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.record.id), [reference]);
  });

  it('names every accepted type when the robot accepts several', async () => {
    const robot = await h().createRobot({ accepts: ['reference', 'book'] });
    const [video] = await h().importRecords([{ type: 'video', identifiers: [{ type: 'asset', value: `denial-video-${Date.now()}` }] }]);
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [video] } });
    assert.equal(created.status, 202);
    // Every item denied: the request is final at once.
    assert.equal(created.body.status, 'failed');
    const [item] = (await h().api('GET', `/v1/requests/${created.body.id}/items?status=denied`)).body.data;
    assert.equal(item.error.message, 'the robot accepts reference, book records; this record is a video');
  });

  it('refuses a request for a paused robot with 422 robot_paused and creates nothing; once resumed it is accepted', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords(references(2));
    const paused = await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: false } });
    assert.equal(paused.status, 200);
    const before = await requestCount();

    const refused = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids }, headers: { 'idempotency-key': `paused-${robot.id}` } });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'robot_paused');
    assert.match(refused.body.error.message, new RegExp(`robot "${robot.name}" is paused`));
    assert.equal(await requestCount(), before);

    assert.equal((await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: true } })).status, 200);
    // The same idempotency key is free: the refused attempt kept nothing.
    const accepted = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids }, headers: { 'idempotency-key': `paused-${robot.id}` } });
    assert.equal(accepted.status, 202);
    assert.equal(accepted.body.counts.pending, 2);
    assert.equal(await requestCount(), before + 1);
  });

  it('refuses a request for an unknown robot with 422 unknown_robot and creates nothing', async () => {
    const ids = await h().importRecords(references(1));
    const before = await requestCount();
    const unknown = '01900000-0000-7000-8000-00000000d0d0';
    const refused = await h().api('POST', '/v1/requests', { body: { robot_id: unknown, record_ids: ids } });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'unknown_robot');
    assert.match(refused.body.error.message, new RegExp(unknown));
    assert.equal(await requestCount(), before);
  });
});
