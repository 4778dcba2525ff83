import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, eventually, type Harness } from './support/harness.ts';
import {
  destinyCall,
  assertModel,
  models,
  poll,
  referencesOf,
  registerDestinyRobot,
  toyEnhancement,
  uploadResults,
  validationEntries,
  type DestinyRobot,
} from './support/destiny.ts';

const advance = (h: Harness, ms: number) => (h.clock as unknown as { advance(ms: number): void }).advance(ms);

/** Reference records with the identifiers given, each list suffixed so that every run's are its own. */
async function importReferences(h: Harness, identifiers: Array<Array<{ type: string; value: string }>>): Promise<string[]> {
  return h.importRecords(identifiers.map((ids, i) => ({ type: 'reference', identifiers: ids, content: { title: `Reference ${i}` } })));
}

async function createEnhancementRequest(h: Harness, robotId: string, referenceIds: string[]) {
  const res = await h.api('POST', '/v1/enhancement-requests/', { body: { robot_id: robotId, reference_ids: referenceIds, source: 'tests' } });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assertModel(models.EnhancementRequestRead, res.body);
  return res.body;
}

async function readRequest(h: Harness, id: string) {
  const res = await h.api('GET', `/v1/enhancement-requests/${id}/`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertModel(models.EnhancementRequestRead, res.body);
  return res.body;
}

async function postResults(h: Harness, robot: DestinyRobot, batchId: string, error: { message: string } | null = null) {
  return destinyCall(h, robot, 'POST', `/v1/robot-enhancement-batches/${batchId}/results/`, { request_id: batchId, error });
}

const byReference = (a: { reference_id?: string | null }, b: { reference_id?: string | null }) => String(a.reference_id).localeCompare(String(b.reference_id));

/** The validation result file of a batch, once its results are imported (the GET batch links it then), by reference id. */
async function validationOf(h: Harness, robot: DestinyRobot, batchId: string) {
  const url = await eventually(async () => {
    const res = await destinyCall(h, robot, 'GET', `/v1/robot-enhancement-batches/${batchId}/`);
    assert.equal(res.status, 200, res.text);
    return res.body.validation_result_url ?? undefined;
  });
  return (await validationEntries(url)).sort(byReference);
}

const finalStatuses = new Set(['completed', 'partial_failed', 'failed']);
async function finished(h: Harness, requestId: string) {
  return eventually(async () => {
    const read = await readRequest(h, requestId);
    return finalStatuses.has(read.request_status) ? read : undefined;
  });
}

// A DESTINY robot, written as destiny_sdk and the toy robot work, against Refinery over real HTTP:
// polls, reference files, result files, lease renewal and expiry, and the requester's reads.
describeEachBackend(
  'DESTINY protocol: the robot loop',
  (h) => {
    let robot: DestinyRobot & { id: string };
    let refs: string[];
    /** The batch and references each of the first request's references went out in. */
    const enhanced: string[] = [];

    it('runs several batches to partial_failed: a LinkedRobotError, a malformed line, a renewal, a lapsed lease, 204 at the end', async () => {
      robot = await registerDestinyRobot(h());
      assert.match(robot.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv4, as the toy robot demands');
      const run = `${Date.now()}`;
      refs = await importReferences(h(), [
        [{ type: 'doi', value: `10.1234/${run}.0` }, { type: 'pm_id', value: '12345' + run.slice(-6) }],
        [{ type: 'doi', value: `not a doi ${run}` }, { type: 'isbn', value: `978-${run}` }],
        [{ type: 'open_alex', value: `W${run}` }, { type: 'eric', value: `ED${run}` }],
        [{ type: 'doi', value: `10.1234/${run}.3` }],
        [{ type: 'doi', value: `10.1234/${run}.4` }],
        [{ type: 'doi', value: `10.1234/${run}.5` }],
      ]);
      const created = await createEnhancementRequest(h(), robot.id, refs);
      assert.equal(created.request_status, 'received');
      assert.deepEqual(created.reference_ids, refs);
      assert.equal(created.source, 'tests');
      assert.deepEqual([created.reference_data_url, created.result_storage_url, created.validation_result_url], [null, null, null]);

      // Batch A: renewed, then one enhancement and one LinkedRobotError.
      const a = (await poll(h(), robot, 2))!;
      const aRefs = await referencesOf(a);
      assert.equal(aRefs.length, 2);
      for (const r of aRefs) {
        if (r.id === refs[0]) assert.deepEqual(r.identifiers, [{ identifier_type: 'doi', identifier: `10.1234/${run}.0` }, { identifier_type: 'pm_id', identifier: Number('12345' + run.slice(-6)) }]);
        if (r.id === refs[1]) {
          assert.deepEqual(r.identifiers, [
            { identifier_type: 'other', identifier: `not a doi ${run}`, other_identifier_name: 'doi' },
            { identifier_type: 'other', identifier: `978-${run}`, other_identifier_name: 'isbn' },
          ]);
        }
      }
      const renewed = await destinyCall(h(), robot, 'PATCH', `/v1/robot-enhancement-batches/${a.id}/renew-lease/?lease=PT20M`);
      assert.equal(renewed.status, 200, renewed.text);
      assert.match(renewed.text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
      assert.equal(Date.parse(renewed.text), h().clock.now().getTime() + 20 * 60_000);
      await uploadResults(a, [toyEnhancement(aRefs[0].id), JSON.stringify({ message: 'could not process', reference_id: aRefs[1].id })]);
      const handedA = await postResults(h(), robot, a.id);
      assert.equal(handedA.status, 202, handedA.text);
      assert.deepEqual([handedA.body.id, handedA.body.robot_id, handedA.body.validation_result_url, handedA.body.error], [a.id, robot.id, null, null]);

      // Batch B: one enhancement and a line that does not parse as an Enhancement.
      const b = (await poll(h(), robot, 2))!;
      const bRefs = await referencesOf(b);
      const malformed = JSON.stringify({ reference_id: bRefs[1].id, source: 'Toy Robot', visibility: 'public', content: { enhancement_type: 'annotation', annotations: [] } });
      await uploadResults(b, [toyEnhancement(bRefs[0].id), malformed]);
      assert.equal((await postResults(h(), robot, b.id)).status, 202);

      assert.deepEqual(await validationOf(h(), robot, a.id), [{ reference_id: aRefs[0].id }, { reference_id: aRefs[1].id, error: 'could not process' }].sort(byReference));
      const bEntries = await validationOf(h(), robot, b.id);
      assert.equal(bEntries.length, 2);
      assert.deepEqual(bEntries.find((e) => e.reference_id === bRefs[0].id), { reference_id: bRefs[0].id });
      assert.match(bEntries.find((e) => e.reference_id === bRefs[1].id)!.error!, /^Entry 2 could not be parsed: .*annotations must NOT have fewer than 1 items\.$/);

      // Batch C lapses: results after the lease are refused and import nothing; the references come back.
      const c = (await poll(h(), robot, 2))!;
      const cRefs = await referencesOf(c);
      advance(h(), 10 * 60_000 + 1000);
      await h().refinery.maintenance.runOnce();
      await uploadResults(c, cRefs.map((r) => toyEnhancement(r.id)));
      const late = await postResults(h(), robot, c.id);
      assert.equal(late.status, 422, late.text);
      assert.match(late.body.error.message, /^Cannot process results: /);
      advance(h(), 10_000); // the retry's backoff

      const d = (await poll(h(), robot, 2))!;
      assert.deepEqual((await referencesOf(d)).map((r) => r.id).sort(), cRefs.map((r) => r.id).sort());
      await uploadResults(d, cRefs.map((r) => toyEnhancement(r.id)));
      assert.equal((await postResults(h(), robot, d.id)).status, 202);
      assert.equal(await poll(h(), robot, 2), null);

      const done = await finished(h(), created.id);
      assert.equal(done.request_status, 'partial_failed');
      assert.deepEqual(done.reference_ids, refs);
      const native = await h().api('GET', `/v1/requests/${created.id}`);
      assert.equal(native.body.status, 'completed_with_errors');
      assert.deepEqual([native.body.counts.completed, native.body.counts.failed], [4, 2]);
      const items = (await h().api('GET', `/v1/requests/${created.id}/items`)).body.data as Array<{ record_id: string; status: string; error: { message: string } | null }>;
      assert.match(items.find((i) => i.record_id === aRefs[1].id)!.error!.message, /^could not process/);
      assert.match(items.find((i) => i.record_id === bRefs[1].id)!.error!.message, /Entry 2 could not be parsed/);
      enhanced.push(aRefs[0].id, bRefs[0].id);

      // The validation result files, through the request's batches too: one line per result line, plus one per reference never answered.
      const batches = (await h().api('GET', `/v1/requests/${created.id}/batches`)).body.data as Array<{ id: string; status: string; report_url: string | null }>;
      assert.deepEqual(batches.map((x) => x.id).sort(), [a.id, b.id, d.id].sort(), 'the batches that hold its items now');
      const bReport = batches.find((x) => x.id === b.id)!;
      assert.deepEqual((await validationEntries(bReport.report_url!)).sort(byReference), bEntries);

      // The enhancement, through DESTINY's reference read and Refinery's record read.
      const reference = await h().api('GET', `/v1/references/${aRefs[0].id}/`);
      assert.equal(reference.status, 200);
      assertModel(models.Reference, reference.body);
      assert.equal(reference.body.enhancements.length, 1);
      assert.deepEqual([reference.body.enhancements[0].source, reference.body.enhancements[0].robot_version], ['Toy Robot', '0.2.0']);
      const record = await h().api('GET', `/v1/records/${aRefs[0].id}`);
      assert.deepEqual(
        record.body.enhancements.map((e: { type: string; source: string; robot_id: string }) => [e.type, e.source, e.robot_id]),
        [['annotation', 'Toy Robot', robot.id]],
      );
    });

    it('hands a reference file the enhancements DESTINY robots wrote; a batch-wide error fails every item with its message', async () => {
      const created = await createEnhancementRequest(h(), robot.id, enhanced);
      const batch = (await poll(h(), robot, 10))!;
      const lines = await referencesOf(batch);
      assert.deepEqual(lines.map((r) => r.id).sort(), [...enhanced].sort());
      for (const r of lines) {
        assert.equal(r.enhancements!.length, 1);
        const [e] = r.enhancements!;
        assert.deepEqual([e.reference_id, e.source, e.visibility, e.content.enhancement_type], [r.id, 'Toy Robot', 'public', 'annotation']);
      }
      const failed = await postResults(h(), robot, batch.id, { message: 'the robot crashed' });
      assert.equal(failed.status, 200, failed.text);
      assert.equal(failed.body.error, 'the robot crashed');
      const again = await postResults(h(), robot, batch.id, { message: 'the robot crashed' });
      assert.equal(again.status, 422);
      const done = await finished(h(), created.id);
      assert.equal(done.request_status, 'failed');
      const items = (await h().api('GET', `/v1/requests/${created.id}/items`)).body.data as Array<{ status: string; error: { message: string } }>;
      assert.deepEqual(
        items.map((i) => [i.status, i.error.message.startsWith('the robot crashed')]),
        [
          ['failed', true],
          ['failed', true],
        ],
      );
    });

    it('discards an exact duplicate, which DESTINY reports as partial_failed', async () => {
      const created = await createEnhancementRequest(h(), robot.id, [enhanced[0]]);
      const batch = (await poll(h(), robot, 10))!;
      await uploadResults(batch, [toyEnhancement(enhanced[0])]);
      assert.equal((await postResults(h(), robot, batch.id)).status, 202);
      const done = await finished(h(), created.id);
      assert.equal(done.request_status, 'partial_failed');
      assert.deepEqual(await validationOf(h(), robot, batch.id), [{ reference_id: enhanced[0], error: 'Exact duplicate enhancement already exists on reference.' }]);
      assert.equal((await h().api('GET', `/v1/requests/${created.id}`)).body.status, 'completed');
    });
  },
  { manualClock: true },
);
