import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RefineryClient, RefineryError } from '@refinery/sdk';
import type { ProvisionedRobot } from '@refinery/protocol';
import { fromPercolator } from '../src/destiny/automations.ts';
import { availableBackends, tempDir } from './support/backends.ts';
import { describeEachBackend, eventually, openOtherProcess, references, type Harness } from './support/harness.ts';
import { leaseRecords, type LeasedBatch } from './support/lifecycle.ts';
import { startServe, serveAdminKey, type ServeProcess } from './support/serveProcess.ts';

/** A short window, so that the tests do not wait 5 s for each. */
const env = { REFINERY_AUTOMATION_WINDOW: '0.05' };

interface Provenance {
  automation_id: string;
  triggered_by: Array<{ kind: 'records' | 'batch'; id: string }>;
  depth: number;
}

/** Runs the consumer until the automation has made `n` requests in all (or fails); returns their ids, oldest first. */
async function requestsMade(h: Harness, automationId: string, n: number): Promise<string[]> {
  return eventually(async () => {
    await h.refinery.maintenance.automations.runOnce();
    const res = await h.api('GET', `/v1/automations/${automationId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const made = res.body.triggered.recent.filter((r: { request_id: string | null }) => r.request_id).reverse();
    assert.ok(made.length <= n, `more requests than ${n}: ${JSON.stringify(res.body.triggered)}`);
    return made.length === n ? made.map((r: { request_id: string }) => r.request_id) : undefined;
  }, 15_000, `${n} requests of automation ${automationId}`);
}

async function requestsOf(h: Harness, robotId: string): Promise<Array<{ id: string; total: number }>> {
  const res = await h.api('GET', `/v1/requests?robot_id=${robotId}`);
  assert.equal(res.status, 200);
  return res.body.data;
}

/** Leases the robot's batch, answers every record with an enhancement of `type`, and waits for the import. */
async function enhanceAll(h: Harness, robot: ProvisionedRobot, type: string): Promise<LeasedBatch> {
  const batch = (await leaseRecords(h, robot, 100))!;
  assert.ok(batch, 'the robot has a batch');
  const body = batch.recordIds.map((id) => JSON.stringify({ record_id: id, type, content: { by: robot.name } })).join('\n') + '\n';
  assert.equal((await fetch(batch.results_url, { method: 'PUT', body })).status, 200);
  const posted = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  await h.refinery.background.drain();
  return batch;
}

async function addAutomation(h: Harness, body: Record<string, unknown>): Promise<string> {
  const res = await h.api('POST', '/v1/automations', { body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

/** Imports records and returns their ids and the import's id. */
async function importRecords(h: Harness, records: unknown[]): Promise<{ ids: string[]; importId: string }> {
  const res = await h.api('POST', '/v1/records', { body: records });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { ids: res.body.ids, importId: res.body.import_id };
}

describeEachBackend(
  'automations',
  (h) => {
    it('refuses a bad query (400 with where), an unknown or paused robot (422), and adds nothing', async () => {
      const robot = await h().createRobot();
      const bad = await h().api('POST', '/v1/automations', { body: { robot_id: robot.id, trigger: { records: { type: 'reference' } }, query: 'type:reference AND' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_query');
      assert.deepEqual(bad.body.error.details, { offset: 18 });
      const badFilter = await h().api('POST', '/v1/automations', { body: { robot_id: robot.id, trigger: { records: { type: 'reference' } }, filter: { and: [{ colour: 'red' }] } } });
      assert.equal(badFilter.status, 400);
      assert.equal(badFilter.body.error.code, 'invalid_query');
      const noTrigger = await h().api('POST', '/v1/automations', { body: { robot_id: robot.id, trigger: {} } });
      assert.equal(noTrigger.status, 400);
      const unknown = await h().api('POST', '/v1/automations', { body: { robot_id: '0190a1b2-0000-7000-8000-00000000dead', trigger: { records: { type: 'reference' } } } });
      assert.equal(unknown.status, 422);
      assert.equal(unknown.body.error.code, 'unknown_robot');
      const paused = await h().createRobot();
      assert.equal((await h().api('PATCH', `/v1/robots/${paused.id}`, { body: { active: false } })).status, 200);
      const onPaused = await h().api('POST', '/v1/automations', { body: { robot_id: paused.id, trigger: { enhancements: { type: 'annotation' } } } });
      assert.equal(onPaused.status, 422);
      assert.equal(onPaused.body.error.code, 'robot_paused');
      const list = await h().api('GET', '/v1/automations');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.data, []);
    });

    it('runs a chain of three robots from one import, each request naming its automation and what triggered it', async () => {
      const a = await h().createRobot({ accepts: ['reference'], produces: [{ type: 'topic' }] });
      const b = await h().createRobot({ accepts: ['reference'], produces: [{ type: 'summary' }] });
      const c = await h().createRobot({ accepts: ['reference'], produces: [{ type: 'translation' }] });
      const autoA = await addAutomation(h(), { robot_id: a.id, trigger: { records: { type: 'reference' } }, query: 'content.title:*Reference*' });
      const autoB = await addAutomation(h(), { robot_id: b.id, trigger: { enhancements: { type: 'topic' } } });
      const autoC = await addAutomation(h(), { robot_id: c.id, trigger: { enhancements: { type: 'summary', robot_id: b.id } } });
      // A's own output never triggers A, even with an automation that asks for it.
      const selfA = await addAutomation(h(), { robot_id: a.id, trigger: { enhancements: { type: 'topic' } } });

      // Records another type, or that the query leaves out, trigger nothing.
      const { ids, importId } = await importRecords(h(), [...references(3), { type: 'reference', identifiers: [{ type: 'doi', value: `10.1/unrelated-${Date.now()}` }], content: { title: 'unrelated' } }, { type: 'book', identifiers: [{ type: 'isbn', value: `${Date.now()}` }], content: { title: 'Reference book' } }]);
      const matching = ids.slice(0, 3).sort();

      const [requestA] = await requestsMade(h(), autoA, 1);
      const gotA = await h().api('GET', `/v1/requests/${requestA}`);
      assert.equal(gotA.body.robot_id, a.id);
      assert.equal(gotA.body.total, 3);
      assert.deepEqual(gotA.body.automation, { automation_id: autoA, triggered_by: [{ kind: 'records', id: importId }], depth: 1 } satisfies Provenance);
      const batchA = await enhanceAll(h(), a, 'topic');
      assert.deepEqual([...batchA.recordIds].sort(), matching);

      const [requestB] = await requestsMade(h(), autoB, 1);
      const gotB = await h().api('GET', `/v1/requests/${requestB}`);
      assert.equal(gotB.body.robot_id, b.id);
      assert.equal(gotB.body.total, 3);
      assert.deepEqual(gotB.body.automation, { automation_id: autoB, triggered_by: [{ kind: 'batch', id: batchA.id }], depth: 2 } satisfies Provenance);
      const batchB = await enhanceAll(h(), b, 'summary');

      const [requestC] = await requestsMade(h(), autoC, 1);
      const gotC = await h().api('GET', `/v1/requests/${requestC}`);
      assert.equal(gotC.body.robot_id, c.id);
      assert.deepEqual(gotC.body.automation, { automation_id: autoC, triggered_by: [{ kind: 'batch', id: batchB.id }], depth: 3 } satisfies Provenance);
      await enhanceAll(h(), c, 'translation');
      await h().refinery.maintenance.automations.runOnce();

      // One request each; A's own topics made none for A.
      assert.equal((await requestsOf(h(), a.id)).length, 1);
      assert.equal((await requestsOf(h(), b.id)).length, 1);
      assert.equal((await requestsOf(h(), c.id)).length, 1);
      const self = await h().api('GET', `/v1/automations/${selfA}`);
      assert.equal(self.body.triggered.requests, 0);
      const shownA = await h().api('GET', `/v1/automations/${autoA}`);
      assert.equal(shownA.body.triggered.requests, 1);
      assert.equal(shownA.body.triggered.items, 3);
      assert.equal(shownA.body.last_error, null);
      // A request a caller made has no automation.
      const plain = await h().api('POST', '/v1/requests', { body: { robot_id: c.id, record_ids: [matching[0]] } });
      assert.equal((await h().api('GET', `/v1/requests/${plain.body.id}`)).body.automation, null);

      for (const id of [autoA, autoB, autoC, selfA]) assert.equal((await h().api('DELETE', `/v1/automations/${id}`)).status, 204);
      assert.equal((await h().api('GET', `/v1/automations/${autoA}`)).status, 404);
      // The requests keep their provenance.
      assert.equal((await h().api('GET', `/v1/requests/${requestA}`)).body.automation.automation_id, autoA);
    });

    it('refuses an automation that closes a cycle, at creation and at resume, with 422 naming it', async () => {
      const x = await h().createRobot({ name: `cycle-x-${Date.now()}`, produces: [{ type: 'x-out' }] });
      const y = await h().createRobot({ name: `cycle-y-${Date.now()}`, produces: [{ type: 'y-out' }] });
      const xy = await addAutomation(h(), { robot_id: y.id, trigger: { enhancements: { type: 'x-out' } } });
      const refused = await h().api('POST', '/v1/automations', { body: { robot_id: x.id, trigger: { enhancements: { type: 'y-out' } } } });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'automation_cycle');
      assert.match(refused.body.error.message, new RegExp(`automation ${xy} \\(robot ${y.name}\\)`));
      assert.match(refused.body.error.message, new RegExp(`robot ${x.name}`));
      // Paused, it closes nothing; resuming it would.
      const paused = await addAutomation(h(), { robot_id: x.id, trigger: { enhancements: { type: 'y-out' } }, active: false });
      const resumed = await h().api('PATCH', `/v1/automations/${paused}`, { body: { active: true } });
      assert.equal(resumed.status, 422);
      assert.equal(resumed.body.error.code, 'automation_cycle');
      assert.equal((await h().api('GET', `/v1/automations/${paused}`)).body.active, false);
      const list = await h().api('GET', `/v1/automations?robot_id=${x.id}`);
      assert.deepEqual(
        list.body.data.map((a: { id: string }) => a.id),
        [paused],
      );
      // Pausing the other side breaks the cycle: then it resumes.
      assert.equal((await h().api('PATCH', `/v1/automations/${xy}`, { body: { active: false } })).status, 200);
      assert.equal((await h().api('PATCH', `/v1/automations/${paused}`, { body: { active: true } })).body.active, true);
      for (const id of [xy, paused]) await h().api('DELETE', `/v1/automations/${id}`);
    });

    it('two processes consuming one outbox handle each import once', async () => {
      const robot = await h().createRobot({ accepts: ['reference'] });
      const auto = await addAutomation(h(), { robot_id: robot.id, trigger: { records: { type: 'reference' } } });
      const other = await openOtherProcess(h(), { adminKey: h().adminKey, env });
      try {
        const imports = [];
        for (let i = 0; i < 6; i++) imports.push(await importRecords(h(), references(5)));
        // Both consume at once, again and again, until nothing is left to match or gather.
        await eventually(async () => {
          await Promise.all([h().refinery.maintenance.automations.runOnce(), other.other.refinery.maintenance.automations.runOnce(), h().refinery.maintenance.automations.runOnce()]);
          const shown = (await h().api('GET', `/v1/automations/${auto}`)).body;
          return shown.triggered.waiting === 0 && shown.triggered.items === 30 ? shown : undefined;
        });
        const runs = (await h().api('GET', `/v1/automations/${auto}`)).body.triggered.recent as Array<{ request_id: string; triggered_by: Array<{ id: string }> }>;
        const triggeredBy = runs.flatMap((r) => r.triggered_by.map((t) => t.id)).sort();
        assert.deepEqual(triggeredBy, imports.map((i) => i.importId).sort());
        // Every record is an item of exactly one request.
        const items: string[] = [];
        for (const run of runs) {
          const res = await h().api('GET', `/v1/requests/${run.request_id}/items`);
          items.push(...res.body.data.map((i: { record_id: string }) => i.record_id));
        }
        assert.deepEqual(items.sort(), imports.flatMap((i) => i.ids).sort());
        assert.equal((await requestsOf(h(), robot.id)).length, runs.length);
      } finally {
        await other.close();
        await h().api('DELETE', `/v1/automations/${auto}`);
      }
    });
  },
  { env },
);

describeEachBackend(
  'automations through the SDK and the CLI',
  (h) => {
    it('adds, lists, shows, pauses, resumes and deletes; a bad query is a clear error', async () => {
      const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
      const robot = await h().createRobot();
      const added = await client.createAutomation({ robot_id: robot.id, trigger: { enhancements: { type: 'topic' } }, query: 'content.year:>=2020' });
      assert.equal(added.active, true);
      assert.deepEqual(added.filter, { content: { path: 'year', gte: 2020 } });
      assert.deepEqual((await client.listAutomations({ robot_id: robot.id })).data.map((a) => a.id), [added.id]);
      assert.equal((await client.pauseAutomation(added.id)).active, false);
      assert.equal((await client.resumeAutomation(added.id)).active, true);
      await assert.rejects(client.createAutomation({ robot_id: robot.id, trigger: { records: { type: 'reference' } }, query: 'type:reference AND' }), (err: unknown) => {
        assert.ok(err instanceof RefineryError);
        assert.equal(err.status, 400);
        assert.equal(err.code, 'invalid_query');
        return true;
      });

      const cli = (args: string[]) =>
        promisify(execFile)(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../src/cli.ts', import.meta.url)), 'automations', ...args], {
          env: { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: h().adminKey, CI: 'true' },
        });
      const made = JSON.parse((await cli(['create', '--robot', robot.id, '--on-records', 'reference', '--query', '{"content":{"path":"year","gte":2020}}', '--json'])).stdout);
      assert.deepEqual(made.trigger, { records: { type: 'reference' } });
      const listed = await cli(['list', '--robot', robot.id]);
      assert.match(listed.stdout, new RegExp(made.id));
      assert.match((await cli(['pause', made.id])).stdout, /is paused/);
      assert.match((await cli(['show', made.id])).stdout, /triggered: 0 requests, 0 items/);
      assert.match((await cli(['delete', made.id])).stdout, /deleted/);
      await client.deleteAutomation(added.id);
      assert.deepEqual((await client.listAutomations({ robot_id: robot.id })).data, []);
    });
  },
  { env },
);

describe("DESTINY's percolator queries as automations", () => {
  const nested = (path: string, field: string, value: string) => ({ nested: { path, query: { term: { [field]: value } } } });
  it('maps the forms DESTINY documents', () => {
    // Its "request missing abstract" example.
    assert.deepEqual(
      fromPercolator({
        bool: {
          must: [nested('changeset.identifiers', 'changeset.identifiers.identifier_type', 'doi')],
          must_not: [nested('reference.enhancements', 'reference.enhancements.content.enhancement_type', 'abstract')],
        },
      }),
      { trigger: { records: { type: 'reference' } }, filter: { and: [{ identifier: { type: 'doi' } }, { not: { has_enhancement: { type: 'abstract' } } }] } },
    );
    // Its "domain inclusion annotation" example.
    assert.deepEqual(fromPercolator({ bool: { must: [nested('changeset.enhancements', 'changeset.enhancements.content.enhancement_type', 'abstract')] } }), {
      trigger: { enhancements: { type: 'abstract' } },
      filter: null,
    });
  });
  it('refuses what it cannot map with 422 naming where', () => {
    for (const [query, at] of [
      [{ match_all: {} }, /query\.match_all/],
      [{ bool: { should: [] } }, /query\.bool\.should/],
      [{ bool: { must: [{ term: { 'changeset.enhancements.content.annotations.label': 'x' } }] } }, /annotations\.label/],
      [{ bool: { must: [nested('reference.enhancements', 'reference.enhancements.content.enhancement_type', 'abstract')] } }, /names no changeset/],
    ] as const) {
      assert.throws(
        () => fromPercolator(query),
        (err: { statusCode: number; code: string; message: string }) => err.statusCode === 422 && err.code === 'unsupported_query' && at.test(err.message),
      );
    }
  });
});

describeEachBackend(
  "automations through DESTINY's routes",
  (h) => {
    it('adds, lists and replaces a robot automation, which then fires as any automation', async () => {
      const robot = await h().createRobot({ accepts: ['reference'] });
      const query = { bool: { must: [{ nested: { path: 'changeset.identifiers', query: { term: { 'changeset.identifiers.identifier_type': 'doi' } } } }] } };
      const added = await h().api('POST', '/v1/enhancement-requests/automations/', { body: { robot_id: robot.id, query } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.deepEqual(added.body, { id: added.body.id, robot_id: robot.id, query });
      const listed = await h().api('GET', '/v1/enhancement-requests/automations/');
      assert.deepEqual(listed.body, [added.body]);
      const refused = await h().api('POST', '/v1/enhancement-requests/automations/', { body: { robot_id: robot.id, query: { match_all: {} } } });
      assert.equal(refused.status, 422);
      assert.equal(refused.body.error.code, 'unsupported_query');
      await importRecords(h(), references(2));
      await requestsMade(h(), added.body.id, 1);
      const replaced = { bool: { must: [{ nested: { path: 'changeset.enhancements', query: { term: { 'changeset.enhancements.content.enhancement_type': 'abstract' } } } }] } };
      const put = await h().api('PUT', `/v1/enhancement-requests/automations/${added.body.id}/`, { body: { robot_id: robot.id, query: replaced } });
      assert.equal(put.status, 201);
      assert.deepEqual(put.body.query, replaced);
      const shown = await h().api('GET', `/v1/automations/${added.body.id}`);
      assert.deepEqual(shown.body.trigger, { enhancements: { type: 'abstract' } });
      assert.equal(shown.body.triggered.requests, 1);
      await h().api('DELETE', `/v1/automations/${added.body.id}`);
    });
  },
  { env },
);

describeEachBackend(
  'automations: a chain deeper than REFINERY_AUTOMATION_MAX_DEPTH',
  (h) => {
    it('is cut off, with the reason on the automation it stopped at', async () => {
      const a = await h().createRobot({ produces: [{ type: 'first' }] });
      const b = await h().createRobot({ produces: [{ type: 'second' }] });
      const c = await h().createRobot({ produces: [{ type: 'third' }] });
      const autoA = await addAutomation(h(), { robot_id: a.id, trigger: { records: { type: 'reference' } } });
      const autoB = await addAutomation(h(), { robot_id: b.id, trigger: { enhancements: { type: 'first' } } });
      const autoC = await addAutomation(h(), { robot_id: c.id, trigger: { enhancements: { type: 'second' } } });
      await importRecords(h(), references(2));
      await requestsMade(h(), autoA, 1);
      await enhanceAll(h(), a, 'first');
      await requestsMade(h(), autoB, 1);
      const batchB = await enhanceAll(h(), b, 'second');
      const shown = await eventually(async () => {
        await h().refinery.maintenance.automations.runOnce();
        const res = (await h().api('GET', `/v1/automations/${autoC}`)).body;
        return res.last_error ? res : undefined;
      });
      assert.match(shown.last_error, /cut off: a chain of more than 2 automated requests \(REFINERY_AUTOMATION_MAX_DEPTH\)/);
      assert.match(shown.last_error, new RegExp(batchB.id));
      assert.equal(shown.triggered.requests, 0);
      assert.equal(shown.triggered.waiting, 0);
      assert.equal((await requestsOf(h(), c.id)).length, 0);
    });
  },
  { env: { ...env, REFINERY_AUTOMATION_MAX_DEPTH: '2' } },
);

describe('automations: a process killed between an import and its trigger', async () => {
  const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
  for (const backend of ['pglite', 'postgres'] as const) {
    it(`${backend}: another process makes exactly one request for it`, { timeout: 300_000, skip: backend === 'postgres' && !postgres ? 'PostgreSQL is not available' : false }, async () => {
      const dir = await tempDir();
      const opened = backend === 'postgres' ? await postgres!.open() : null;
      // The first process's window never closes in its lifetime: it dies before making any request.
      const settings = { REFINERY_DATA_DIR: dir.path, ...(opened && { DATABASE_URL: opened.databaseUrl! }) };
      const call = async (proc: ServeProcess, method: string, path: string, body?: unknown) => {
        const res = await fetch(proc.url + path, { method, headers: { authorization: `Bearer ${serveAdminKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: res.status, body: res.status === 204 ? null : await res.json() };
      };
      let second: ServeProcess | null = null;
      try {
        const first = await startServe('first', { ...settings, REFINERY_AUTOMATION_WINDOW: '3600' }, { timeoutMs: 120_000 });
        const robot = await call(first, 'POST', '/v1/robots', { name: 'crash-robot', accepts: ['reference'], produces: [{ type: 'annotation' }] });
        assert.equal(robot.status, 201);
        const auto = await call(first, 'POST', '/v1/automations', { robot_id: robot.body.id, trigger: { records: { type: 'reference' } } });
        assert.equal(auto.status, 201);
        const imported = await call(first, 'POST', '/v1/records', references(4));
        assert.equal(imported.status, 200);
        first.child.kill('SIGKILL');
        await first.exit;

        second = await startServe('second', { ...settings, REFINERY_AUTOMATION_WINDOW: '0.05' }, { timeoutMs: 120_000 });
        const made = await eventually(async () => {
          const shown = await call(second!, 'GET', `/v1/automations/${auto.body.id}`);
          return shown.body.triggered.requests === 1 && shown.body.triggered.waiting === 0 ? shown.body : undefined;
        });
        assert.deepEqual(made.triggered.recent[0].triggered_by, [{ kind: 'records', id: imported.body.import_id }]);
        const requests = await call(second, 'GET', `/v1/requests?robot_id=${robot.body.id}`);
        assert.equal(requests.body.data.length, 1);
        assert.equal(requests.body.data[0].total, 4);
      } finally {
        await second?.stop();
        if (opened) await opened.drop();
        await dir.remove();
      }
    });
  }
});
