import assert from 'node:assert/strict';
import type { ProvisionedRobot } from '@refinery/protocol';
import type { Harness } from './harness.ts';

export interface LeasedBatch {
  id: string;
  lease_token: string;
  items_url: string;
  results_url: string;
  item_count: number;
  /** The record ids in the batch's items file. */
  recordIds: string[];
}

/** Moves the harness's manual clock. */
export const advance = (h: Harness, ms: number) => (h.clock as unknown as { advance(ms: number): void }).advance(ms);

/** Leases a batch of up to `limit` items (null on 204) and reads which records it holds. */
export async function leaseRecords(h: Harness, robot: ProvisionedRobot, limit: number): Promise<LeasedBatch | null> {
  const res = await h.robotCall(robot, 'POST', `/v1/batches/lease?limit=${limit}`);
  if (res.status === 204) return null;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const text = await (await fetch(res.body.items_url)).text();
  const recordIds = text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line).record.id as string);
  return { ...res.body, recordIds };
}

/** Uploads an annotation for every record of the batch to its results URL. */
export async function uploadAnnotations(batch: LeasedBatch): Promise<void> {
  const body = batch.recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { score: 0.5 } })).join('\n') + '\n';
  const put = await fetch(batch.results_url, { method: 'PUT', body });
  assert.equal(put.status, 200);
}

/** Creates a request (202) and returns its id. */
export async function createRequest(h: Harness, body: Record<string, unknown>, key?: string): Promise<string> {
  const res = await h.api('POST', '/v1/requests', { body, key });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id;
}

export async function itemsOf(h: Harness, requestId: string): Promise<Array<{ record_id: string; status: string; error: { code: string; message: string } | null }>> {
  const res = await h.api('GET', `/v1/requests/${requestId}/items`);
  assert.equal(res.status, 200);
  return res.body.data;
}

export async function enhancementCount(h: Harness, recordId: string): Promise<number> {
  return (await h.api('GET', `/v1/records/${recordId}`)).body.enhancements.length;
}

/** The `request.finished` rows of the outbox for a request. */
export async function finishedEvents(h: Harness, requestId: string): Promise<Array<{ payload: { status: string; counts: Record<string, number> } }>> {
  const { rows } = await h.refinery.ctx.db.query<{ payload: { status: string; counts: Record<string, number> } }>(
    `select payload from events where request_id = $1::uuid and type = 'request.finished' order by id`,
    [requestId],
  );
  return rows;
}

/** The validation report of a batch, one parsed line each. */
export async function reportOf(h: Harness, requestId: string, batchId: string): Promise<Array<{ record_id?: string; outcome: string; message?: string }>> {
  const res = await h.api('GET', `/v1/requests/${requestId}/batches`);
  const batch = res.body.data.find((b: { id: string }) => b.id === batchId);
  assert.ok(batch?.report_url, 'the batch has a report');
  return (await (await fetch(batch.report_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
}
