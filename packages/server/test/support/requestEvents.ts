import assert from 'node:assert/strict';
import type { ProvisionedRobot } from '@refinery/protocol';
import { references, type Harness } from './harness.ts';

/** A new requester key. */
export async function requesterKey(h: Harness, name = `requester-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`): Promise<string> {
  const res = await h.api('POST', '/v1/api-keys', { body: { name, role: 'requester' } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.key;
}

export interface TwoBatchRequest {
  robot: ProvisionedRobot;
  requestId: string;
  /** Runs the request to completion in steps 2 s apart on the manual clock, calling `between` after each. */
  run(between?: (step: string) => Promise<void>): Promise<void>;
}

/**
 * A request of 4 records for a robot that takes 2 per batch, made with `key`. Its run: lease A
 * (request.started), lease B, results of A, results of B (request.finished), each step 2 s after
 * the last (past the progress throttle), so progress events come between.
 */
export async function twoBatchRequest(h: Harness, key: string, body: Record<string, unknown> = {}): Promise<TwoBatchRequest> {
  const advance = (ms: number) => (h.clock as unknown as { advance(ms: number): void }).advance(ms);
  const robot = await h.createRobot({ max_batch_size: 2, lease: 'PT10M' });
  const recordIds = await h.importRecords(references(4));
  const created = await h.api('POST', '/v1/requests', { key, body: { robot_id: robot.id, record_ids: recordIds, ...body } });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const requestId: string = created.body.id;

  async function complete(batch: { id: string; lease_token: string; items_url: string; results_url: string }): Promise<void> {
    const items = (await (await fetch(batch.items_url)).text()).trim().split('\n').map((line) => JSON.parse(line));
    const results = items.map((i) => JSON.stringify({ record_id: i.record.id, type: 'annotation', content: { score: 0.5 } })).join('\n') + '\n';
    assert.equal((await fetch(batch.results_url, { method: 'PUT', body: results })).status, 200);
    assert.equal((await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token })).status, 202);
    await h.refinery.background.drain();
  }

  return {
    robot,
    requestId,
    async run(between = async () => {}) {
      const a = await h.robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(a.status, 200);
      await between('leased A');
      advance(2000);
      const b = await h.robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(b.status, 200);
      await between('leased B');
      advance(2000);
      await complete(a.body);
      await between('completed A');
      advance(2000);
      await complete(b.body);
      await between('completed B');
    },
  };
}
