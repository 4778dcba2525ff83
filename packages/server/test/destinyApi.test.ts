import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { fromDestinyIdentifier } from '../src/destiny/identifiers.ts';
import { describeEachBackend, type Harness } from './support/harness.ts';
import { assertModel, destinyCall, models, poll, referencesOf, registerDestinyRobot } from './support/destiny.ts';

const doi = () => ({ type: 'doi', value: `10.4321/${randomUUID()}` });
const importReferences = (h: Harness, n: number) => h.importRecords(Array.from({ length: n }, () => ({ type: 'reference', identifiers: [doi()] })));

/** The value of a refinery_* counter on /metrics for `robot` (and `status`), 0 when it has none. */
async function counted(h: Harness, name: string, robot: string, status?: string): Promise<number> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const labels = `robot="${robot}"${status ? `,status="${status}"` : ''}`;
  return Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

async function requesterKey(h: Harness): Promise<string> {
  const res = await h.api('POST', '/v1/api-keys', { body: { name: `requester-${randomUUID()}`, role: 'requester' } });
  assert.equal(res.status, 201);
  return res.body.key;
}

// The DESTINY requester and registration APIs over real HTTP (docs/destiny.md), on Refinery's
// API keys, requests and records: what each refuses, and that the two APIs see the same things.
describeEachBackend('DESTINY protocol: requesters and registration', (h) => {
  it('refuses unknown, repeated and non-reference ids with 422, a missing key with 401, and creates nothing', async () => {
    const robot = await registerDestinyRobot(h());
    const [known] = await importReferences(h(), 1);
    const [photo] = await h().importRecords([{ type: 'photo', identifiers: [{ type: 'url', value: `https://example.org/${randomUUID()}.jpg` }] }]);
    const before = (await h().api('GET', '/v1/requests?limit=1000')).body.data.length;
    const unknown = randomUUID();
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['an unknown reference', { robot_id: robot.id, reference_ids: [known, unknown] }, 422, new RegExp(`^Reference with id \\[${unknown}\\] does not exist\\.$`)],
      ['a record that is no reference', { robot_id: robot.id, reference_ids: [photo] }, 422, /does not exist/],
      ['a repeated id', { robot_id: robot.id, reference_ids: [known, known] }, 422, /more than once/],
      ['an id that is no UUID', { robot_id: robot.id, reference_ids: ['ref-1'] }, 422, /reference_ids/],
      ['no ids', { robot_id: robot.id, reference_ids: [] }, 422, /reference_ids/],
      ['an unknown field', { robot_id: robot.id, reference_ids: [known], priority: 'high' }, 422, /unknown field "priority"/],
    ];
    for (const [what, body, status, message] of cases) {
      const res = await h().api('POST', '/v1/enhancement-requests/', { body });
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.message, message, what);
    }
    const anonymous = await h().api('POST', '/v1/enhancement-requests/', { body: { reference_ids: 'not even a list' }, key: null });
    assert.equal(anonymous.status, 401);
    assert.equal((await h().api('GET', '/v1/requests?limit=1000')).body.data.length, before);
  });

  it('shows a request to its requester and admins only, and the two APIs the same requests', async () => {
    const robot = await registerDestinyRobot(h());
    const ids = await importReferences(h(), 3);
    const key = await requesterKey(h());
    const created = await h().api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: ids }, key });
    assert.equal(created.status, 202);
    assert.equal((await h().api('GET', `/v1/enhancement-requests/${created.body.id}/`, { key })).status, 200);
    assert.equal((await h().api('GET', `/v1/enhancement-requests/${created.body.id}/`, { key: await requesterKey(h()) })).status, 404);
    const native = await h().api('GET', `/v1/requests/${created.body.id}`, { key });
    assert.deepEqual([native.body.robot_id, native.body.total, native.body.status], [robot.id, 3, 'received']);

    // A request made through Refinery's API, read through DESTINY's.
    const nativeCreated = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
    const read = await h().api('GET', `/v1/enhancement-requests/${nativeCreated.body.id}/`);
    assertModel(models.EnhancementRequestRead, read.body);
    assert.deepEqual([read.body.reference_ids, read.body.request_status, read.body.source], [ids, 'received', null]);
    const batch = (await poll(h(), robot, 100))!;
    assert.equal((await referencesOf(batch)).length, 3, 'the oldest request first, one reference per record');
    assert.equal((await h().api('GET', `/v1/enhancement-requests/${created.body.id}/`)).body.request_status, 'processing');
  });

  it('reads a retried request and its retry (POST /v1/requests/{id}/retry) each as the request it is', async () => {
    const robot = await registerDestinyRobot(h());
    const ids = await importReferences(h(), 2);
    const created = await h().api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: ids, source: 'a test' } });
    assert.equal(created.status, 202);
    const batch = (await poll(h(), robot, 10))!;
    const failed = await destinyCall(h(), robot, 'POST', `/v1/robot-enhancement-batches/${batch.id}/results/`, { request_id: batch.id, error: { message: 'the model is away' } });
    assert.equal(failed.status, 200, failed.text);
    assert.deepEqual(
      [await counted(h(), 'refinery_items_leased_total', robot.id), await counted(h(), 'refinery_items_finished_total', robot.id, 'failed')],
      [2, 2],
      "/metrics counts the DESTINY robot's items leased and failed",
    );
    const retry = await h().api('POST', `/v1/requests/${created.body.id}/retry`);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.retry_of, created.body.id);

    const original = await h().api('GET', `/v1/enhancement-requests/${created.body.id}/`);
    assertModel(models.EnhancementRequestRead, original.body);
    assert.deepEqual([original.body.request_status, original.body.source, [...original.body.reference_ids].sort()], ['failed', 'a test', [...ids].sort()]);
    const retried = await h().api('GET', `/v1/enhancement-requests/${retry.body.id}/`);
    assertModel(models.EnhancementRequestRead, retried.body);
    assert.deepEqual([retried.body.id, retried.body.robot_id, retried.body.request_status, retried.body.source], [retry.body.id, robot.id, 'received', null]);
    assert.deepEqual([...retried.body.reference_ids].sort(), [...ids].sort());
    assert.equal((await referencesOf((await poll(h(), robot, 10))!)).length, 2, 'the retry is leased to the robot again');
  });

  it("lists every reference id of a large request, those still in its backlog too", async () => {
    const robot = await registerDestinyRobot(h());
    const ids = await importReferences(h(), 250);
    const slice = h().refinery.ctx.config.createSlice;
    h().refinery.ctx.config.createSlice = 100;
    try {
      const created = await h().api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: ids } });
      assert.equal(created.status, 202);
      assert.deepEqual(created.body.reference_ids, ids);
      const read = await h().api('GET', `/v1/enhancement-requests/${created.body.id}/`);
      assert.equal(read.status, 200);
      assert.deepEqual([...read.body.reference_ids].sort(), [...ids].sort());
      assert.equal((await h().api('GET', `/v1/requests/${created.body.id}/items?limit=1000`)).body.data.length, 250);
    } finally {
      h().refinery.ctx.config.createSlice = slice;
    }
  });

  it("maps identifiers the same way in reference files and reference reads, and back without loss", async () => {
    const robot = await registerDestinyRobot(h());
    const run = randomUUID().slice(0, 8);
    const identifiers = [
      { type: 'doi', value: `10.1234/${run}` },
      { type: 'doi', value: `doi:${run}` },
      { type: 'pm_id', value: '7' + run.replace(/\D/g, '').slice(0, 6) },
      { type: 'pm_id', value: `0${run}` },
      { type: 'eric', value: `EJ${run.replace(/\D/g, '1')}` },
      { type: 'pro_quest', value: `12${run.replace(/\D/g, '')}` },
      { type: 'open_alex', value: `W9${run.replace(/\D/g, '')}` },
      { type: 'isbn', value: `978-${run}` },
    ];
    const [id] = await h().importRecords([{ type: 'reference', identifiers }]);
    const read = await h().api('GET', `/v1/references/${id}/`);
    assert.equal(read.status, 200);
    assertModel(models.Reference, read.body);
    assert.deepEqual(read.body.identifiers.map(fromDestinyIdentifier), identifiers);
    await h().api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: [id] } });
    const [line] = await referencesOf((await poll(h(), robot, 10))!);
    assert.deepEqual(line.identifiers, read.body.identifiers);
    assert.deepEqual(
      read.body.identifiers.map((i: { identifier_type: string }) => i.identifier_type),
      ['doi', 'other', 'pm_id', 'other', 'eric', 'pro_quest', 'open_alex', 'other'],
    );
    assert.equal((await h().api('GET', `/v1/references/${randomUUID()}/`)).status, 404);
  });

  it('registers, changes, lists and rotates robots the DESTINY way, beside Refinery\'s own routes', async () => {
    const name = `toy-${randomUUID()}`;
    const robot = await registerDestinyRobot(h(), { name, entitlements: ['full_text'] });
    assert.deepEqual(robot.entitlements, ['full_text']);
    const native = await h().createRobot();
    assert.equal((await h().api('POST', '/v1/robots/', { body: { name, description: 'd', owner: 'o' } })).status, 409);
    assert.equal((await h().api('POST', '/v1/robots/', { body: { name: 'x', description: 'd', owner: 'o', accepts: ['reference'] } })).status, 422);
    assert.equal((await h().api('POST', '/v1/robots/', { body: { name: 'x', owner: 'o' } })).status, 422);
    assert.equal((await h().api('POST', '/v1/robots/', { body: { name: 'x', description: 'd', owner: 'o' }, key: await requesterKey(h()) })).status, 403);

    const changed = await h().api('PUT', `/v1/robots/${robot.id}/`, { body: { name: `${name}-2`, description: 'toys', owner: 'tests', entitlements: ['raw_enhancement_writer'] } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assertModel(models.Robot, changed.body);
    assert.deepEqual([changed.body.name, changed.body.description, changed.body.entitlements], [`${name}-2`, 'toys', ['raw_enhancement_writer']]);
    assert.equal((await h().api('PUT', `/v1/robots/${native.id}/`, { body: { name: 'n', description: 'd', owner: 'o' } })).status, 409);
    assert.equal((await h().api('GET', `/v1/robots/${randomUUID()}/`)).status, 404);
    const nativeRead = await h().api('GET', `/v1/robots/${robot.id}`);
    assert.deepEqual([nativeRead.body.protocol, nativeRead.body.accepts], ['destiny', ['reference']]);

    const all = await h().api('GET', '/v1/robots/');
    assert.equal(all.status, 200);
    for (const r of all.body) assertModel(models.Robot, r);
    assert.ok(all.body.some((r: { id: string }) => r.id === native.id) && all.body.some((r: { id: string }) => r.id === robot.id));

    const rotated = await h().api('POST', `/v1/robots/${robot.id}/secret/`);
    assert.equal(rotated.status, 201);
    assertModel(models.ProvisionedRobot, rotated.body);
    assert.notEqual(rotated.body.client_secret, robot.client_secret);
    const path = `/v1/robot-enhancement-batches/?robot_id=${robot.id}`;
    assert.equal((await destinyCall(h(), robot, 'POST', path)).status, 204, 'the old secret works through its grace period');
    assert.equal((await destinyCall(h(), { id: robot.id, client_secret: rotated.body.client_secret }, 'POST', path)).status, 204);
  });
});
