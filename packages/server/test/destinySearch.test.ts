import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { destiny } from '@refinery/protocol';
import { strictAjv } from '../src/http/validation.ts';
import { describeEachBackend, type Harness } from './support/harness.ts';
import { assertModel, destinyCall, poll, referencesOf, registerDestinyRobot, toyEnhancement, uploadResults } from './support/destiny.ts';

const ajv = strictAjv({ discriminator: true });
const SearchEnhancementRequestRead = ajv.compile(destiny.SearchEnhancementRequestRead);
const SearchResultTotal = ajv.compile(destiny.SearchResultTotal);

/** References whose content carries `tag` and the given fields. */
async function importTagged(h: Harness, tag: string, contents: object[], type = 'reference'): Promise<string[]> {
  return h.importRecords(contents.map((content) => ({ type, identifiers: [{ type: 'doi', value: `10.4321/${randomUUID()}` }], content: { tag, ...content } })));
}

async function requestCount(h: Harness): Promise<number> {
  const { rows } = await h.refinery.ctx.db.query<{ n: number }>('select count(*)::int as n from requests');
  return rows[0].n;
}

// DESTINY's search-based enhancement requests (docs/destiny.md) over Refinery's requests by query.
describeEachBackend('DESTINY protocol: search-based enhancement requests', (h) => {
  it('a dry run counts, a request is made for every matching reference, and its read follows the search and the enhancements', async () => {
    const robot = await registerDestinyRobot(h());
    const tag = randomUUID().slice(0, 8);
    const matching = await importTagged(h(), tag, [{ year: 2021, title: 'Climate change and health' }, { year: 2022 }]);
    await importTagged(h(), tag, [{ year: 2019 }]);
    // Not a reference: DESTINY searches references only.
    await importTagged(h(), tag, [{ year: 2023 }], 'photo');
    const search_query = `tag:"${tag}" AND year:>=2020`;

    const before = await requestCount(h());
    const dry = await h().api('POST', '/v1/enhancement-requests/search/?dry_run=true', { body: { robot_id: robot.id, search_query } });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assertModel(SearchResultTotal, dry.body);
    assert.deepEqual(dry.body, { count: 2, is_lower_bound: false });
    assert.equal(await requestCount(h()), before, 'a dry run creates nothing');

    const created = await h().api('POST', '/v1/enhancement-requests/search/', { body: { robot_id: robot.id, search_query, source: 'a search test' } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assertModel(SearchEnhancementRequestRead, created.body);
    assert.deepEqual(
      [created.body.robot_id, created.body.source, created.body.n_matched, created.body.request_status, created.body.error],
      [robot.id, 'a search test', 2, 'received', null],
    );
    await h().refinery.background.drain();
    const read = await h().api('GET', `/v1/enhancement-requests/search/${created.body.id}/`);
    assert.equal(read.status, 200);
    assertModel(SearchEnhancementRequestRead, read.body);
    assert.deepEqual(
      [read.body.search_status, read.body.n_matched, read.body.n_enhancements_requested, read.body.enhancement_status_counts],
      ['completed', 2, 2, { pending: 2 }],
    );
    // The same request through Refinery's API shows the query.
    const native = await h().api('GET', `/v1/requests/${created.body.id}`);
    assert.deepEqual([native.body.query, native.body.matched], [search_query, 2]);

    const batch = (await poll(h(), robot, 100))!;
    const references = await referencesOf(batch);
    assert.deepEqual(references.map((r) => r.id).sort(), [...matching].sort());
    await uploadResults(batch, references.map((r) => toyEnhancement(r.id)));
    const handed = await destinyCall(h(), robot, 'POST', `/v1/robot-enhancement-batches/${batch.id}/results/`, { request_id: batch.id, error: null });
    assert.equal(handed.status, 202, handed.text);
    await h().refinery.background.drain();
    const done = await h().api('GET', `/v1/enhancement-requests/search/${created.body.id}/`);
    assert.deepEqual([done.body.request_status, done.body.enhancement_status_counts], ['completed', { completed: 2 }]);
  });

  it("takes Refinery's own fields beside DESTINY's unprefixed ones", async () => {
    const robot = await registerDestinyRobot(h());
    const tag = randomUUID().slice(0, 8);
    await importTagged(h(), tag, [{ authors: [{ name: 'Jones' }] }, { authors: [{ name: 'Smith' }] }]);
    const count = async (search_query: string) => (await h().api('POST', '/v1/enhancement-requests/search/?dry_run=true', { body: { robot_id: robot.id, search_query } })).body;
    assert.deepEqual(await count(`tag:"${tag}" AND authors.name:Jones`), { count: 1, is_lower_bound: false });
    assert.deepEqual(await count(`content.tag:"${tag}" AND _exists_:authors AND NOT enhancement.annotation:*`), { count: 2, is_lower_bound: false });
    assert.deepEqual(await count(`tag:"${tag}" AND identifier.doi:*`), { count: 2, is_lower_bound: false });
  });

  it('refuses a bad query with where it is wrong, and changes nothing; a request of ids is no search request (404)', async () => {
    const robot = await registerDestinyRobot(h());
    const before = await requestCount(h());
    const bad = await h().api('POST', '/v1/enhancement-requests/search/', { body: { robot_id: robot.id, search_query: 'title:"climate change" AND' } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.deepEqual([bad.body.error.code, bad.body.error.details], ['invalid_query', { offset: 26 }]);
    const implicit = await h().api('POST', '/v1/enhancement-requests/search/', { body: { robot_id: robot.id, search_query: 'climate' } });
    assert.equal(implicit.status, 400);
    assert.equal(implicit.body.error.code, 'invalid_query');
    const missing = await h().api('POST', '/v1/enhancement-requests/search/', { body: { robot_id: robot.id } });
    assert.equal(missing.status, 422, 'a body FastAPI would refuse: 422 as DESTINY answers');
    assert.equal(await requestCount(h()), before);

    const [id] = await importTagged(h(), randomUUID().slice(0, 8), [{}]);
    const byIds = await h().api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: [id] } });
    assert.equal((await h().api('GET', `/v1/enhancement-requests/search/${byIds.body.id}/`)).status, 404);
    assert.equal((await h().api('GET', `/v1/enhancement-requests/search/${randomUUID()}/`)).status, 404);
  });
});
