import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, references } from './support/harness.ts';

describeEachBackend('robots', (h) => {
  it('registers a robot with its declarations and shows the secret once', async () => {
    const res = await h().api('POST', '/v1/robots', {
      body: {
        name: `classifier-${Date.now()}`,
        owner: 'evidence team',
        accepts: ['reference'],
        produces: [{ type: 'annotation', schema: { type: 'object' } }, { type: 'abstract' }],
        needs: ['abstract'],
        max_batch_size: 250,
        lease: 'PT2M',
        max_attempts: 5,
      },
    });
    assert.equal(res.status, 201);
    assert.match(res.body.secret, /^rs_/);
    assert.equal(res.body.max_batch_size, 250);
    assert.equal(res.body.lease, 'PT120S');
    assert.equal(res.body.max_attempts, 5);
    assert.deepEqual(res.body.delivery, { mode: 'pull' });
    assert.equal(res.body.active, true);
    const read = await h().api('GET', `/v1/robots/${res.body.id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.secret, undefined);
    assert.deepEqual(read.body.needs, ['abstract']);
    assert.equal(read.body.secrets.length, 1);
    const list = await h().api('GET', '/v1/robots?limit=1000');
    assert.ok(list.body.data.some((r: { id: string; secret?: string }) => r.id === res.body.id && r.secret === undefined));
  });

  it('refuses a second robot with the same name', async () => {
    const robot = await h().createRobot();
    const again = await h().api('POST', '/v1/robots', { body: { name: robot.name, accepts: ['reference'], produces: [{ type: 'x' }] } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'name_taken');
  });

  it('changes a robot, and a paused robot leases nothing and takes no new requests', async () => {
    const robot = await h().createRobot();
    const [recordId] = await h().importRecords(references(1));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
    assert.equal(created.status, 202);

    const paused = await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: false, description: 'on holiday' } });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.active, false);
    assert.equal(paused.body.description, 'on holiday');
    assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease')).status, 204);
    const refused = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'robot_paused');

    await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: true } });
    const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
    assert.equal(leased.status, 200);
    assert.equal(leased.body.item_count, 1);
  });

  it('rotates the secret with a grace period in which both work', async () => {
    const robot = await h().createRobot();
    const rotated = await h().api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: 'PT1H' } });
    assert.equal(rotated.status, 201);
    assert.notEqual(rotated.body.secret, robot.secret);
    assert.equal(rotated.body.secrets.length, 2);
    assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease')).status, 204);
    assert.equal((await h().robotCall({ id: robot.id, secret: rotated.body.secret }, 'POST', '/v1/batches/lease')).status, 204);
    // A second rotation ends the first secret's grace at once: never more than two live.
    const again = await h().api('POST', `/v1/robots/${robot.id}/secrets`, { body: {} });
    assert.equal(again.body.secrets.length, 2);
    assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease')).status, 401);
    assert.equal((await h().robotCall({ id: robot.id, secret: rotated.body.secret }, 'POST', '/v1/batches/lease')).status, 204);
  });
});
