import assert from 'node:assert/strict';
import { it } from 'node:test';
import { maxResultLineBytes, type ProvisionedRobot, type RobotIn } from '@refinery/protocol';
import { describeEachBackend, references } from './support/harness.ts';

// Validation of a robot's results file, one case at a time: each shows in the batch's
// validation report and on the request's items, with a message a person understands.
describeEachBackend('validation of results', (h) => {
  interface Leased {
    robot: ProvisionedRobot;
    requestId: string;
    /** The request's record ids, in the order given. */
    recordIds: string[];
    batch: { id: string; lease_token: string; items_url: string; results_url: string };
    /** The record ids in the leased batch, from its items file. */
    inBatch: string[];
  }

  /** A robot, `n` records, a request for them, and one leased batch of at most `limit` items. */
  async function leased(n: number, robotInput: Partial<RobotIn> = {}, limit = n, recordIds?: string[]): Promise<Leased> {
    const robot = await h().createRobot(robotInput);
    return leasedFor(robot, recordIds ?? (await h().importRecords(references(n))), limit);
  }

  async function leasedFor(robot: ProvisionedRobot, recordIds: string[], limit = recordIds.length): Promise<Leased> {
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(created.status, 202);
    const lease = await h().robotCall(robot, 'POST', `/v1/batches/lease?limit=${limit}`);
    assert.equal(lease.status, 200);
    const items = await (await fetch(lease.body.items_url)).text();
    const inBatch = items.trim().split('\n').map((l) => JSON.parse(l).record.id as string);
    return { robot, requestId: created.body.id, recordIds, batch: lease.body, inBatch };
  }

  /** Uploads `results` (JSONL text) and hands the batch in; waits for the import. */
  async function handIn(l: Leased, results: string): Promise<void> {
    const put = await fetch(l.batch.results_url, { method: 'PUT', body: results, headers: { 'content-type': 'application/x-ndjson' } });
    assert.equal(put.status, 200);
    const posted = await h().robotCall(l.robot, 'POST', `/v1/batches/${l.batch.id}/results`, { lease_token: l.batch.lease_token });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    await h().refinery.background.drain();
  }

  const jsonl = (...lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const answer = (recordId: string, content: unknown = { score: 0.5 }) => ({ record_id: recordId, type: 'annotation', content });

  /** The batch's validation report, as the requester finds it (via the request's batches). */
  async function reportOf(l: Leased): Promise<Array<{ line?: number; record_id?: string; outcome: string; message?: string }>> {
    const batches = await h().api('GET', `/v1/requests/${l.requestId}/batches`);
    assert.equal(batches.status, 200);
    const batch = batches.body.data.find((b: { id: string }) => b.id === l.batch.id);
    assert.ok(batch?.report_url, 'the batch has a validation report');
    const res = await fetch(batch.report_url);
    assert.equal(res.status, 200);
    return (await res.text()).trim().split('\n').map((line) => JSON.parse(line));
  }

  /** The request's items by record id. */
  async function itemsOf(l: Leased): Promise<Map<string, { status: string; attempts: number; error: { code: string; message: string } | null }>> {
    const res = await h().api('GET', `/v1/requests/${l.requestId}/items`);
    assert.equal(res.status, 200);
    return new Map(res.body.data.map((i: { record_id: string }) => [i.record_id, i]));
  }

  async function enhancementsOf(recordId: string): Promise<Array<{ type: string; content: unknown }>> {
    const res = await h().api('GET', `/v1/records/${recordId}`);
    assert.equal(res.status, 200);
    return res.body.enhancements;
  }

  async function requestStatus(l: Leased): Promise<string> {
    return (await h().api('GET', `/v1/requests/${l.requestId}`)).body.status;
  }

  it('a line that is not JSON is rejected; the record it meant is missing and says why', async () => {
    const l = await leased(2, { max_attempts: 1 });
    const [a, b] = l.inBatch;
    await handIn(l, jsonl(`{"record_id": "${a}", "type": "annotation", "content": {`, answer(b)));

    const report = await reportOf(l);
    const bad = report.find((r) => r.line === 1)!;
    assert.equal(bad.outcome, 'rejected');
    assert.match(bad.message!, /not valid JSON/);
    assert.equal(report.find((r) => r.line === 2)?.outcome, 'imported');
    assert.equal(report.find((r) => r.record_id === a)?.outcome, 'missing');

    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'failed');
    assert.equal(items.get(a)!.error!.code, 'missing');
    assert.match(items.get(a)!.error!.message, /never answered/);
    assert.match(items.get(a)!.error!.message, /line 1.*not valid JSON/);
    assert.equal(items.get(b)!.status, 'completed');
    assert.equal(items.get(b)!.error, null);
    assert.equal((await enhancementsOf(a)).length, 0);
    assert.equal(await requestStatus(l), 'completed_with_errors');
  });

  it('a record that is not in the batch is rejected and touches nothing of that record', async () => {
    // Two records in the request, one per batch: the robot answers the other batch's record.
    const l = await leased(2, { max_attempts: 1 }, 1);
    assert.equal(l.inBatch.length, 1);
    const [mine] = l.inBatch;
    const other = l.recordIds.find((id) => id !== mine)!;
    await handIn(l, jsonl(answer(other)));

    const report = await reportOf(l);
    const bad = report.find((r) => r.line === 1)!;
    assert.equal(bad.outcome, 'rejected');
    assert.equal(bad.record_id, other);
    assert.match(bad.message!, /not in this batch/);
    assert.equal(report.find((r) => r.record_id === mine)?.outcome, 'missing');

    const items = await itemsOf(l);
    assert.equal(items.get(mine)!.status, 'failed');
    assert.equal(items.get(mine)!.error!.code, 'missing');
    assert.match(items.get(mine)!.error!.message, /not in this batch/);
    // The other record's item waits for its own batch, untouched.
    assert.equal(items.get(other)!.status, 'pending');
    assert.equal(items.get(other)!.attempts, 0);
    assert.equal(items.get(other)!.error, null);
    assert.equal((await enhancementsOf(other)).length, 0);
  });

  it('a record answered twice: the first line stands, the second is rejected', async () => {
    const l = await leased(1);
    const [a] = l.inBatch;
    await handIn(l, jsonl(answer(a, { score: 1 }), answer(a, { score: 2 })));

    const report = await reportOf(l);
    assert.equal(report.length, 2);
    assert.equal(report.find((r) => r.line === 1)?.outcome, 'imported');
    const twice = report.find((r) => r.line === 2)!;
    assert.equal(twice.record_id, a);
    assert.equal(twice.outcome, 'rejected');
    assert.match(twice.message!, /answered twice/);
    assert.match(twice.message!, /line 1 stands/);

    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'completed');
    const enhancements = await enhancementsOf(a);
    assert.equal(enhancements.length, 1);
    assert.deepEqual(enhancements[0].content, { score: 1 });
  });

  it('an enhancement type the robot does not produce is rejected', async () => {
    const l = await leased(1);
    const [a] = l.inBatch;
    await handIn(l, jsonl({ record_id: a, type: 'summary', content: { text: 'x' } }));

    const report = await reportOf(l);
    assert.equal(report.length, 1);
    assert.equal(report[0].outcome, 'rejected');
    assert.equal(report[0].record_id, a);
    assert.match(report[0].message!, /"summary" is not one this robot produces/);
    assert.match(report[0].message!, /annotation/);

    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'failed');
    assert.equal(items.get(a)!.error!.code, 'rejected');
    assert.match(items.get(a)!.error!.message, /line 1: .*"summary" is not one this robot produces/);
    assert.equal((await enhancementsOf(a)).length, 0);
    assert.equal(await requestStatus(l), 'failed');
  });

  it('content that fails the declared schema is rejected, naming the field', async () => {
    const l = await leased(2, {
      produces: [{ type: 'annotation', schema: { type: 'object', required: ['score'], properties: { score: { type: 'number' } } } }],
    });
    const [a, b] = l.inBatch;
    await handIn(l, jsonl(answer(a, { score: 'high' }), answer(b, { score: 0.9 })));

    const report = await reportOf(l);
    const bad = report.find((r) => r.record_id === a)!;
    assert.equal(bad.outcome, 'rejected');
    assert.match(bad.message!, /does not match the schema/);
    assert.match(bad.message!, /score/);
    assert.equal(report.find((r) => r.record_id === b)?.outcome, 'imported');

    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'failed');
    assert.equal(items.get(a)!.error!.code, 'rejected');
    assert.match(items.get(a)!.error!.message, /does not match the schema.*score/);
    assert.equal(items.get(b)!.status, 'completed');
    assert.equal((await enhancementsOf(a)).length, 0);
    assert.equal(await requestStatus(l), 'completed_with_errors');
  });

  it("a robot's per-record error fails the item with the robot's message", async () => {
    const l = await leased(1);
    const [a] = l.inBatch;
    await handIn(l, jsonl({ record_id: a, error: { message: 'the PDF could not be fetched (HTTP 404)' } }));

    const report = await reportOf(l);
    assert.deepEqual(report, [{ line: 1, record_id: a, outcome: 'robot_error', message: 'the PDF could not be fetched (HTTP 404)' }]);

    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'failed');
    assert.equal(items.get(a)!.error!.code, 'robot_error');
    assert.match(items.get(a)!.error!.message, /the PDF could not be fetched \(HTTP 404\)/);
    assert.equal(await requestStatus(l), 'failed');
  });

  it('a record never answered fails as missing when no attempt is left', async () => {
    const l = await leased(2, { max_attempts: 1 });
    const [a, b] = l.inBatch;
    await handIn(l, jsonl(answer(a)));

    const report = await reportOf(l);
    const missing = report.find((r) => r.record_id === b)!;
    assert.equal(missing.outcome, 'missing');
    assert.equal(missing.line, undefined);
    assert.match(missing.message!, /never answered/);

    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'completed');
    assert.equal(items.get(b)!.status, 'failed');
    assert.equal(items.get(b)!.error!.code, 'missing');
    assert.match(items.get(b)!.error!.message, /never answered this record/);
    assert.equal(await requestStatus(l), 'completed_with_errors');
  });

  it('a record never answered goes back to pending while attempts remain', async () => {
    const l = await leased(2, { max_attempts: 3 });
    const [a, b] = l.inBatch;
    await handIn(l, jsonl(answer(a)));

    assert.equal((await reportOf(l)).find((r) => r.record_id === b)?.outcome, 'missing');
    const items = await itemsOf(l);
    assert.equal(items.get(b)!.status, 'pending');
    assert.equal(items.get(b)!.attempts, 1);
    assert.equal(items.get(b)!.error!.code, 'missing');
    assert.match(items.get(b)!.error!.message, /never answered this record.*will retry/);
    assert.equal(await requestStatus(l), 'processing');
  });

  it('a line over the size limit is rejected and the lines after it still count', async () => {
    const l = await leased(2, { max_attempts: 1 });
    const [a, b] = l.inBatch;
    const huge = JSON.stringify(answer(a, { text: 'x'.repeat(maxResultLineBytes + 10) }));
    assert.ok(Buffer.byteLength(huge) > maxResultLineBytes);
    await handIn(l, jsonl(huge, answer(b)));

    const report = await reportOf(l);
    const bad = report.find((r) => r.line === 1)!;
    assert.equal(bad.outcome, 'rejected');
    assert.match(bad.message!, /longer than the limit/);
    const next = report.find((r) => r.line === 2)!;
    assert.equal(next.record_id, b);
    assert.equal(next.outcome, 'imported');

    const items = await itemsOf(l);
    assert.equal(items.get(b)!.status, 'completed');
    assert.equal(items.get(a)!.status, 'failed');
    assert.equal(items.get(a)!.error!.code, 'missing');
    assert.match(items.get(a)!.error!.message, /line 1.*longer than the limit/);
    assert.equal((await enhancementsOf(a)).length, 0);
    assert.equal((await enhancementsOf(b)).length, 1);
  });

  it('an exact duplicate of a stored enhancement is discarded, not stored twice', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(1));
    const first = await leasedFor(robot, recordIds);
    await handIn(first, jsonl(answer(recordIds[0], { score: 0.7, label: 'x' })));
    assert.equal((await reportOf(first))[0].outcome, 'imported');

    const second = await leasedFor(robot, recordIds);
    // Same content, keys in another order: the canonical hash is the same.
    await handIn(second, jsonl(answer(recordIds[0], { label: 'x', score: 0.7 })));

    const report = await reportOf(second);
    assert.equal(report.length, 1);
    assert.equal(report[0].outcome, 'discarded');
    assert.match(report[0].message!, /identical enhancement is already stored/);
    const items = await itemsOf(second);
    assert.equal(items.get(recordIds[0])!.status, 'discarded');
    assert.equal(items.get(recordIds[0])!.error, null);
    assert.equal((await enhancementsOf(recordIds[0])).length, 1);
    // A discarded item is not a failure.
    assert.equal(await requestStatus(second), 'completed');
  });

  it('lines PostgreSQL cannot store are rejected each on its own line; the batch finishes and the other lines import', async () => {
    const l = await leased(10, { max_attempts: 1 });
    const [fine, ...poisoned] = l.inBatch;
    const deep = '['.repeat(3000) + ']'.repeat(3000);
    // Raw text: each `\\u…` below is the six characters of a JSON escape.
    const bodies: Array<[string, RegExp]> = [
      ['"type":"annotation","content":{"title":"a\\u0000b"}', /content\.title holds a NUL character/],
      ['"type":"annotation","content":{"a\\u0000":1}', /content has a key that holds a NUL character/],
      ['"type":"annotation","content":{"title":"x\\ud800"}', /content\.title holds a lone surrogate/],
      ['"type":"annotation","content":{"list":[{"\\udc00":1}]}', /content\.list\[0\] has a key that holds a lone surrogate/],
      ['"type":"annotation","content":{"n":1},"robot_version":"1\\u0000"', /robot_version holds a NUL character/],
      ['"error":{"message":"gone\\u0000"}', /error\.message holds a NUL character/],
      ['"type":"annot\\u0000ation","content":{}', /type holds a NUL character/],
      ['"type":"annotation","content":{"n":1e400}', /content\.n is a number too large to store/],
      [`"type":"annotation","content":${deep}`, /content(\[0\])+ is nested deeper than \d+ levels/],
    ];
    const lines = [...bodies.map(([body], i) => `{"record_id":"${poisoned[i]}",${body}}`), answer(fine)];
    await handIn(l, jsonl(...lines));

    const report = await reportOf(l);
    assert.equal(report.length, 10);
    const items = await itemsOf(l);
    for (const [i, [, message]] of bodies.entries()) {
      const line = report.find((r) => r.line === i + 1)!;
      assert.equal(line.record_id, poisoned[i]);
      assert.equal(line.outcome, 'rejected');
      assert.match(line.message!, message);
      const item = items.get(poisoned[i])!;
      assert.equal(item.status, 'failed');
      assert.equal(item.error!.code, 'rejected');
      assert.match(item.error!.message, message);
      assert.equal((await enhancementsOf(poisoned[i])).length, 0);
    }
    assert.equal(report.find((r) => r.line === 10)?.outcome, 'imported');
    assert.equal(items.get(fine)!.status, 'completed');
    assert.equal((await enhancementsOf(fine)).length, 1);
    assert.equal(await requestStatus(l), 'completed_with_errors');
    assert.equal((await h().robotCall(l.robot, 'GET', `/v1/batches/${l.batch.id}`)).body.status, 'completed');
  });

  it('posting results before uploading the file is 409 results_missing and changes nothing', async () => {
    const l = await leased(1);
    const [a] = l.inBatch;
    const early = await h().robotCall(l.robot, 'POST', `/v1/batches/${l.batch.id}/results`, { lease_token: l.batch.lease_token });
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'results_missing');
    assert.match(early.body.error.message, /no results file was uploaded/);

    const batch = await h().robotCall(l.robot, 'GET', `/v1/batches/${l.batch.id}`);
    assert.equal(batch.body.status, 'leased');
    assert.equal(batch.body.report_url, null);
    const items = await itemsOf(l);
    assert.equal(items.get(a)!.status, 'leased');
    assert.equal(items.get(a)!.attempts, 1);
    assert.equal(await requestStatus(l), 'processing');

    // The batch can still be handed in once the file is there.
    await handIn(l, jsonl(answer(a)));
    assert.equal((await reportOf(l))[0].outcome, 'imported');
    assert.equal((await itemsOf(l)).get(a)!.status, 'completed');
    assert.equal(await requestStatus(l), 'completed');
  });
});
