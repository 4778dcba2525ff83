import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ProvisionedRobot } from '@refinery/protocol';
import { RefineryClient } from '@refinery/sdk';
import { describeEachBackend, type Harness } from './support/harness.ts';
import { leaseRecords, uploadAnnotations } from './support/lifecycle.ts';

/** Records whose content carries `tag`, so a query can find these and no others of the suite's. */
function tagged(tag: string, contents: unknown[], type = 'reference') {
  return contents.map((content, i) => ({
    type,
    identifiers: [{ type: 'doi', value: `10.1000/${tag}/${i}` }],
    content: { tag, ...(content as object) },
  }));
}

const newTag = () => `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** Leases, answers and imports batches until none is left. */
async function workThrough(h: Harness, robot: ProvisionedRobot): Promise<void> {
  await h.refinery.background.drain();
  for (;;) {
    const batch = await leaseRecords(h, robot, 1000);
    if (!batch) return;
    await uploadAnnotations(batch);
    const posted = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
    assert.equal(posted.status, 202);
    await h.refinery.background.drain();
  }
}

/** The record ids of a request's items, sorted. */
async function itemRecordIds(h: Harness, requestId: string): Promise<string[]> {
  await h.refinery.background.drain();
  const res = await h.api('GET', `/v1/requests/${requestId}/items?limit=1000`);
  assert.equal(res.status, 200);
  return res.body.data.map((i: { record_id: string }) => i.record_id).sort();
}

async function requestCount(h: Harness): Promise<number> {
  const { rows } = await h.refinery.ctx.db.query<{ n: number }>('select count(*)::int as n from requests');
  return rows[0].n;
}

describeEachBackend('requests by query', (h) => {
  it('a query string: every match becomes an item, the request shows the query and how many it matched, and a robot completes it', async () => {
    const tag = newTag();
    const robot = await h().createRobot();
    const ids = await h().importRecords(tagged(tag, [{ year: 2019 }, { year: 2020 }, { year: 2021 }, { year: 2022 }]));
    const query = `type:reference AND content.tag:"${tag}" AND content.year:>=2020`;
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.get('location'), `/v1/requests/${res.body.id}`);
    assert.equal(res.body.query, query);
    assert.equal(res.body.matched, 3);
    assert.equal(res.body.total, 3);
    assert.deepEqual(res.body.filter, {
      and: [{ type: 'reference' }, { content: { path: 'tag', eq: tag } }, { content: { path: 'year', gte: 2020 } }],
    });
    assert.deepEqual(await itemRecordIds(h(), res.body.id), ids.slice(1).sort());

    await workThrough(h(), robot);
    const done = await h().api('GET', `/v1/requests/${res.body.id}`);
    assert.equal(done.body.status, 'completed');
    assert.equal(done.body.counts.completed, 3);
    assert.equal(done.body.query, query);
    assert.equal(done.body.matched, 3);
  });

  it('a JSON filter does the same; a request of record ids shows no query', async () => {
    const tag = newTag();
    const robot = await h().createRobot();
    const ids = await h().importRecords(tagged(tag, [{ lang: 'en' }, { lang: 'fr' }, { lang: 'de' }]));
    const filter = { and: [{ content: { path: 'tag', eq: tag } }, { content: { path: 'lang', in: ['en', 'fr'] } }] };
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, filter, priority: 'high' } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual({ query: res.body.query, filter: res.body.filter, matched: res.body.matched, priority: res.body.priority }, { query: null, filter, matched: 2, priority: 'high' });
    assert.deepEqual(await itemRecordIds(h(), res.body.id), ids.slice(0, 2).sort());
    await workThrough(h(), robot);
    assert.equal((await h().api('GET', `/v1/requests/${res.body.id}`)).body.status, 'completed');

    const byIds = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [ids[2]] } });
    assert.equal(byIds.status, 202);
    assert.deepEqual({ query: byIds.body.query, filter: byIds.body.filter, matched: byIds.body.matched }, { query: null, filter: null, matched: null });
  });

  it('matched records the robot may not have are denied with their reason, as for record ids', async () => {
    const tag = newTag();
    const robot = await h().createRobot({ accepts: ['reference'] });
    const [, book] = await h().importRecords([...tagged(tag, [{ n: 1 }]), ...tagged(tag, [{}, { n: 2 }], 'book').slice(1)]);
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: `content.tag:"${tag}"` } });
    assert.equal(res.status, 202);
    assert.equal(res.body.matched, 2);
    await h().refinery.background.drain();
    const items = (await h().api('GET', `/v1/requests/${res.body.id}/items?status=denied`)).body.data;
    assert.deepEqual(
      items.map((i: { record_id: string; error: { code: string } }) => [i.record_id, i.error.code]),
      [[book, 'type_not_accepted']],
    );
  });

  it('a query that matches nothing is a request finished at once, of no items', async () => {
    const robot = await h().createRobot();
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: `content.tag:"${newTag()}"` } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual({ status: res.body.status, total: res.body.total, matched: res.body.matched }, { status: 'completed', total: 0, matched: 0 });
  });

  it('dry_run answers the count, capped as a search count is, and creates nothing', async () => {
    const tag = newTag();
    const robot = await h().createRobot();
    await h().importRecords(tagged(tag, [{}, {}, {}]));
    const before = await requestCount(h());
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: `content.tag:"${tag}"`, dry_run: true } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { count: 3 });
    const filtered = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, filter: { content: { path: 'tag', eq: tag } }, dry_run: true } });
    assert.deepEqual(filtered.body, { count: 3 });
    const cap = h().refinery.ctx.config.searchCountCap;
    h().refinery.ctx.config.searchCountCap = 2;
    try {
      const capped = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: `content.tag:"${tag}"`, dry_run: true } });
      assert.deepEqual(capped.body, { count: 2, lower_bound: true });
    } finally {
      h().refinery.ctx.config.searchCountCap = cap;
    }
    assert.equal(await requestCount(h()), before, 'no request was made');
  });

  it('the same Idempotency-Key and query: the first request again (200); another query under it: 422', async () => {
    const tag = newTag();
    const robot = await h().createRobot();
    await h().importRecords(tagged(tag, [{}, {}]));
    const body = { robot_id: robot.id, query: `content.tag:"${tag}"` };
    const headers = { 'idempotency-key': `k-${tag}` };
    const first = await h().api('POST', '/v1/requests', { body, headers });
    assert.equal(first.status, 202);
    const again = await h().api('POST', '/v1/requests', { body, headers });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    const other = await h().api('POST', '/v1/requests', { body: { ...body, query: 'type:reference' }, headers });
    assert.equal(other.status, 422);
    assert.equal(other.body.error.code, 'idempotency_key_reused');
  });

  it('bad queries and bodies are refused with where they are wrong, and change nothing', async () => {
    const robot = await h().createRobot();
    const [id] = await h().importRecords(tagged(newTag(), [{}]));
    const before = await requestCount(h());
    const bad: Array<[Record<string, unknown>, string, unknown]> = [
      [{ query: 'type:reference AND' }, 'invalid_query', { offset: 18 }],
      [{ query: 'title:cats' }, 'invalid_query', { offset: 0 }],
      [{ query: 'content.title:[a TO b]' }, 'invalid_query', { offset: 14 }],
      [{ filter: { and: [{ type: 'reference' }, { title: 'x' }] } }, 'invalid_query', { pointer: '/filter/and/1/title' }],
      [{ filter: { content: { path: 'year', gte: 'a' } } }, 'invalid_query', { pointer: '/filter/content/gte' }],
      [{ query: 'type:reference', record_ids: [id] }, 'invalid_request', undefined],
      [{ query: 'type:reference', filter: { type: 'reference' } }, 'invalid_request', undefined],
      [{}, 'invalid_request', undefined],
      [{ record_ids: [id], dry_run: true }, 'invalid_request', undefined],
    ];
    for (const [fields, code, details] of bad) {
      const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, ...fields } });
      assert.equal(res.status, 400, JSON.stringify([fields, res.body]));
      assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      if (details) assert.deepEqual(res.body.error.details, details, JSON.stringify(res.body));
    }
    const unknownRobot = await h().api('POST', '/v1/requests', { body: { robot_id: '0190a1b2-0000-7000-8000-0000000000ff', query: 'type:reference' } });
    assert.equal(unknownRobot.status, 422);
    assert.equal(unknownRobot.body.error.code, 'unknown_robot');
    assert.equal(await requestCount(h()), before, 'no request was made');
  });

  it('content clauses over an encrypted record type are refused; identifiers and other types are not', async () => {
    const robot = await h().createRobot({ accepts: ['reference', 'sealed_q'] });
    assert.equal((await h().api('PUT', '/v1/record-types/sealed_q', { body: { encrypted: true } })).status, 200);
    const before = await requestCount(h());
    for (const body of [{ query: 'content.title:*x*' }, { query: 'type:sealed_q AND content.title:x' }, { filter: { content: { path: 'title', exists: true } }, dry_run: true }]) {
      const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, ...body } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'encrypted_content');
    }
    assert.equal(await requestCount(h()), before);
    const held = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: `type:reference AND content.tag:"${newTag()}"` } });
    assert.equal(held.status, 202);
    const identifiers = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: 'type:sealed_q AND identifier.doi:"10.1/none"', dry_run: true } });
    assert.deepEqual(identifiers.body, { count: 0 });
  });

  it('edge cases: paths into arrays, missing fields, and lacking an enhancement over records with none at all', async () => {
    const tag = newTag();
    const robot = await h().createRobot();
    const [jones, smith, none, enhanced] = await h().importRecords(
      tagged(tag, [{ authors: [{ name: 'Smith' }, { name: 'Jones' }] }, { authors: [{ name: 'Smith' }] }, {}, { authors: [] }]),
    );
    // `enhanced` gets an annotation from a first request.
    const first = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [enhanced] } });
    assert.equal(first.status, 202);
    await workThrough(h(), robot);
    const matches = async (query: string) => {
      const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, query: `type:reference AND content.tag:"${tag}" AND (${query})` } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return itemRecordIds(h(), res.body.id);
    };
    assert.deepEqual(await matches('content.authors.name:Jones'), [jones], 'any element of the array');
    assert.deepEqual(await matches('content.authors.0.name:Smith'), [jones, smith].sort(), 'the first element');
    assert.deepEqual(await matches('content.authors.1.name:*'), [jones], 'a position past the end matches nothing');
    assert.deepEqual(await matches('NOT content.authors:*'), [none], 'a missing field');
    assert.deepEqual(await matches('NOT content.authors.name:Smith'), [none, enhanced].sort(), 'NOT of a path that leads nowhere matches');
    assert.deepEqual(await matches('NOT enhancement.annotation:*'), [jones, smith, none].sort(), 'records with no enhancement at all lack one');
    assert.deepEqual(await matches(`enhancement.annotation:(robot_id:${robot.id})`), [enhanced]);
    await workThrough(h(), robot);
  });

  it('the SDK and the CLI make requests by query, and count them with a dry run', async () => {
    const tag = newTag();
    const robot = await h().createRobot();
    const ids = await h().importRecords(tagged(tag, [{ n: 1 }, { n: 2 }]));
    // Held to references: another test marks a record type encrypted.
    const byTag = { and: [{ type: 'reference' }, { content: { path: 'tag', eq: tag } }] };
    const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
    assert.deepEqual(await client.createRequest({ robot_id: robot.id, query: `type:reference AND content.tag:"${tag}"`, dry_run: true }), { count: 2 });
    const byFilter = await client.createRequest({ robot_id: robot.id, filter: byTag });
    assert.equal(byFilter.matched, 2);

    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const refinery = (args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: h().adminKey, CI: 'true' } });
    const counted = await refinery(['requests', 'create', '--robot', robot.id, '--query', `type:reference AND content.tag:"${tag}" AND content.n:1`, '--dry-run']);
    assert.match(counted.stdout, /^1 record match; no request was made\.$/m);
    const created = JSON.parse((await refinery(['requests', 'create', '--robot', robot.id, '--query', JSON.stringify(byTag), '--json'])).stdout);
    assert.deepEqual([created.matched, created.filter], [2, byTag]);
    assert.deepEqual(await itemRecordIds(h(), created.id), [...ids].sort());
    const refused = await refinery(['requests', 'create', '--robot', robot.id, '--query', 'type:reference AND']).then(
      () => assert.fail('a bad query succeeded'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ends too soon/);
  });
});
