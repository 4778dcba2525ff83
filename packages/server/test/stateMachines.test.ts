import assert from 'node:assert/strict';
import { it } from 'node:test';
import { batchStatuses, itemStatuses, requestStatuses } from '@refinery/protocol';
import { describeEachBackend, eventually, references } from './support/harness.ts';

// The state machines are declared once (packages/protocol/src/states.ts); the database enforces them.
describeEachBackend('state machines', (h) => {
  it('the status CHECKs list exactly the states the protocol declares', async () => {
    const { rows } = await h().refinery.ctx.db.query<{ table: string; def: string }>(`
select c.conrelid::regclass::text as table, pg_get_constraintdef(c.oid) as def
from pg_constraint c
where c.contype = 'c' and c.conname in ('items_status_check', 'batches_status_check', 'requests_status_check')`);
    const statesIn = (table: string) => [...rows.find((r) => r.table === table)!.def.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]).sort();
    // Plus `new`, a row status never shown: an item not written since its create (docs/internals/0034-lease-by-span.md).
    assert.deepEqual(statesIn('items'), [...itemStatuses, 'new'].sort());
    assert.deepEqual(statesIn('batches'), [...batchStatuses].sort());
    assert.deepEqual(statesIn('requests'), [...requestStatuses].sort());
  });

  it('refuses a move the protocol does not allow, and changes nothing', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(2));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    const batch = (await h().robotCall(robot, 'POST', '/v1/batches/lease')).body;
    await fetch(batch.results_url, { method: 'PUT', body: recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: {} })).join('\n') });
    await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
    await eventually(async () => ((await h().api('GET', `/v1/requests/${created.body.id}`)).body.status === 'completed' ? true : undefined));
    const db = h().refinery.ctx.db;
    await assert.rejects(db.query(`update items set status = 'pending' where request_id = $1::uuid`, [created.body.id]), /an item may not move from completed to pending/);
    await assert.rejects(db.query(`update batches set status = 'leased' where id = $1::uuid`, [batch.id]), /a batch may not move from completed to leased/);
    await assert.rejects(db.query(`update requests set status = 'processing' where id = $1::uuid`, [created.body.id]), /a request may not move from completed to processing/);
    const after = (await h().api('GET', `/v1/requests/${created.body.id}`)).body;
    assert.equal(after.status, 'completed');
    assert.equal(after.counts.completed, 2);
  });

  it('checks each item of a statement that makes several moves, and counts each request by what moved', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(3));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal((await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=1')).status, 200);
    const db = h().refinery.ctx.db;
    const counts = async () => (await h().api('GET', `/v1/requests/${created.body.id}`)).body.counts;
    // pending → leased and leased → importing are allowed, though pending → importing is not.
    // Read through item_rows: the rows are `new`, shown pending or leased (docs/internals/0034-lease-by-span.md).
    await db.query(
      `update items i set status = case x.status when 'pending' then 'leased' else 'importing' end from item_rows x where x.id = i.id and x.request_id = $1::uuid`,
      [created.body.id],
    );
    const moved = await counts();
    assert.deepEqual([moved.pending, moved.leased, moved.importing], [0, 2, 1]);
    // One illegal move (importing → leased) refuses the whole statement.
    await assert.rejects(
      db.query(`update items set status = case status when 'leased' then 'importing' else 'leased' end where request_id = $1::uuid`, [created.body.id]),
      /an item may not move from importing to leased/,
    );
    const after = await counts();
    assert.equal(after.leased, 2);
    assert.equal(after.importing, 1);
  });
});
