import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import type { ProvisionedRobot, RecordFilter } from '@refinery/protocol';
import { checkFilter } from '../src/records/search/checkFilter.ts';
import { contentClauses } from '../src/records/search/clauses.ts';
import { parseQuery } from '../src/records/search/parseQuery.ts';
import { describeEachBackend, eventually, type Harness } from './support/harness.ts';
import { createRequest, leaseRecords } from './support/lifecycle.ts';

const robotA = '0190a1b2-0000-7000-8000-00000000000a';

describe('record query strings: the table of good queries and what they mean', () => {
  const good: Array<[string, RecordFilter]> = [
    ['type:reference', { type: 'reference' }],
    ['visibility:restricted', { visibility: 'restricted' }],
    ['identifier.doi:*', { identifier: { type: 'doi' } }],
    ['identifier.doi:"10.1000/a:b"', { identifier: { type: 'doi', value: '10.1000/a:b' } }],
    ['identifier.doi:10.1000\\/x', { identifier: { type: 'doi', value: '10.1000/x' } }],
    ['_exists_:identifier.pmid', { identifier: { type: 'pmid' } }],
    ['content.title:"Deep learning"', { content: { path: 'title', eq: 'Deep learning' } }],
    ['content.title:cats', { content: { path: 'title', eq: 'cats' } }],
    ['content.code:12', { content: { path: 'code', in: [12, '12'] } }],
    ['content.open:true', { content: { path: 'open', in: [true, 'true'] } }],
    ['content.year:>=2020', { content: { path: 'year', gte: 2020 } }],
    ['content.year:<2020.5', { content: { path: 'year', lt: 2020.5 } }],
    ['content.year:[2019 TO 2021}', { content: { path: 'year', gte: 2019, lt: 2021 } }],
    ['content.year:{2019 TO *]', { content: { path: 'year', gt: 2019 } }],
    ['content.title:*deep\\ learning*', { content: { path: 'title', contains: 'deep learning' } }],
    ['content.abstract:*', { content: { path: 'abstract', exists: true } }],
    ['_exists_:content.authors.0.name', { content: { path: 'authors.0.name', exists: true } }],
    ['content.tags:(a OR b)', { or: [{ content: { path: 'tags', eq: 'a' } }, { content: { path: 'tags', eq: 'b' } }] }],
    ['enhancement.annotation:*', { has_enhancement: { type: 'annotation' } }],
    [
      `enhancement.annotation:(robot_id:${robotA} AND created_at:>2026-01-01T00\\:00\\:00Z)`,
      { has_enhancement: { type: 'annotation', robot_id: robotA, newer_than: '2026-01-01T00:00:00Z' } },
    ],
    ['NOT enhancement.annotation:*', { not: { has_enhancement: { type: 'annotation' } } }],
    ['created_at:>=2024-01-01', { created_at: { gte: '2024-01-01' } }],
    ['created_at:<2024-01-01T12:00:00Z', { created_at: { lt: '2024-01-01T12:00:00Z' } }],
    ['content.delta:-5', { content: { path: 'delta', in: [-5, '-5'] } }],
    ['updated_at:[2024-01-01 TO 2024-02-01}', { updated_at: { gte: '2024-01-01', lt: '2024-02-01' } }],
    ['-type:photo', { not: { type: 'photo' } }],
    ['type:a AND type:b OR type:c', { or: [{ and: [{ type: 'a' }, { type: 'b' }] }, { type: 'c' }] }],
    ['type:a OR type:b AND type:c', { or: [{ type: 'a' }, { and: [{ type: 'b' }, { type: 'c' }] }] }],
    ['type:a AND NOT type:b AND type:c', { and: [{ type: 'a' }, { not: { type: 'b' } }, { type: 'c' }] }],
    ['type:a && (type:b || NOT type:c)', { and: [{ type: 'a' }, { or: [{ type: 'b' }, { not: { type: 'c' } }] }] }],
    ['NOT (type:a OR type:b)', { not: { or: [{ type: 'a' }, { type: 'b' }] } }],
  ];
  for (const [query, filter] of good) {
    it(query, () => {
      assert.deepEqual(parseQuery(query, 100), filter);
      // The JSON form of the same query means the same.
      assert.deepEqual(checkFilter(filter, 100), filter);
    });
  }
});

describe('the content clauses of a query', () => {
  it('are found wherever they are nested, for refusing them over encrypted record types', () => {
    const filter = parseQuery('type:a AND NOT content.x:1 OR (identifier.doi:* AND content.y.z:*)', 100);
    assert.deepEqual(contentClauses(filter), [
      { path: 'x', in: [1, '1'] },
      { path: 'y.z', exists: true },
    ]);
    assert.deepEqual(contentClauses(parseQuery('identifier.doi:"10.1/x" OR type:b', 100)), []);
  });
});

/** Bad query strings: each refused with 400 invalid_query and the character offset of the mistake. */
const badQueries: Array<[string, number, RegExp]> = [
  ['type:reference AND', 18, /ends too soon/],
  ['type:reference AND (visibility:public', 37, /ends too soon/],
  ['type:reference)', 14, /unexpected "\)"/],
  ['title:cats', 0, /unknown field "title"/],
  ['type:reference AND cats', 19, /name a field/],
  ['type:a type:b', 7, /write AND or OR/],
  ['content.title:[a TO z]', 14, /range on content takes numbers/],
  ['content.year:>soon', 14, /range on content takes numbers/],
  ['created_at:>=yesterday', 13, /RFC 3339/],
  ['created_at:2024', 11, /takes a comparison or a range/],
  ['content.authors[0]:x', 15, /unexpected/],
  ['content.a b:x', 10, /write AND or OR/],
  ['visibility:secret', 11, /visibility is one of/],
  ['identifier.do i:x', 14, /write AND or OR/],
  ['content.title:de*p', 16, /wildcard/],
  ['content.title:/re/', 14, /regular expressions/],
  ['content.title:cats^2', 18, /unexpected "\^"/],
  ['type:a AND NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT type:b', 71, /deeper than 16/],
  ['enhancement.annotation:yes', 23, /enhancement.annotation:\*/],
  ['enhancement.annotation:(robot_id:nope)', 33, /UUID/],
  ['enhancement.annotation:(source:x)', 24, /unknown field "source"/],
  [`${'('.repeat(17)}type:a${')'.repeat(17)}`, 16, /deeper than 16/],
];

/** Bad filters: each refused with the JSON pointer of the mistake. */
const badFilters: Array<[unknown, string, RegExp]> = [
  [{ title: 'x' }, '/filter/title', /unknown field "title"/],
  [{ type: 'a', visibility: 'public' }, '/filter', /exactly one key/],
  [{ and: [] }, '/filter/and', /non-empty array/],
  [{ and: [{ type: 'a' }, { content: { path: 'year', gte: '2020' } }] }, '/filter/and/1/content/gte', /takes numbers/],
  [{ content: { path: 'year', gte: 1, eq: 2 } }, '/filter/content', /exactly one of/],
  [{ content: { path: 'a..b', exists: true } }, '/filter/content/path', /path step/],
  [{ content: { path: 'x', eq: { nested: true } } }, '/filter/content/eq', /compared with a string/],
  [{ created_at: { gte: 'last week' } }, '/filter/created_at/gte', /RFC 3339/],
  [{ updated_at: { lt: '2024-02-30' } }, '/filter/updated_at/lt', /RFC 3339/],
  [{ has_enhancement: { type: 'annotation', newer_than: '2024-01-01T25:00:00Z' } }, '/filter/has_enhancement/newer_than', /RFC 3339/],
  [{ identifier: { kind: 'doi' } }, '/filter/identifier/kind', /unknown field "kind"/],
  [{ has_enhancement: { type: 'annotation', robot_id: 'x' } }, '/filter/has_enhancement/robot_id', /UUID/],
  [{ not: { not: 'x' } }, '/filter/not/not', /an object/],
];

/** Nested `not`s `depth` deep. */
const deepNot = (depth: number): unknown => (depth === 0 ? { type: 'a' } : { not: deepNot(depth - 1) });

async function search(h: Harness, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return h.api('POST', '/v1/records/search', { body });
}

/** The sorted ids of every record that `query` (a string or a filter) matches, page after page. */
async function idsOf(h: Harness, query: string | RecordFilter, limit = 1000): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const res = await search(h, { ...(typeof query === 'string' ? { query } : { filter: query }), limit, cursor });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    ids.push(...res.body.data.map((r: { id: string }) => r.id));
    cursor = res.body.next_cursor ?? undefined;
  } while (cursor);
  return ids.sort();
}

/** Runs a real request of `robot` over `recordIds` to the end: the robot annotates every record. */
async function annotate(h: Harness, robot: ProvisionedRobot, recordIds: string[]): Promise<void> {
  const requestId = await createRequest(h, { robot_id: robot.id, record_ids: recordIds });
  const batch = await leaseRecords(h, robot, recordIds.length);
  assert.ok(batch);
  // Content of its own per robot: the same content twice would be one enhancement, the second discarded.
  const lines = batch.recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { by: robot.id } }));
  assert.equal((await fetch(batch.results_url, { method: 'PUT', body: lines.join('\n') + '\n' })).status, 200);
  const posted = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  await eventually(async () => ((await h.api('GET', `/v1/requests/${requestId}`)).body.status === 'completed' ? true : undefined));
}

const pause = () => new Promise((r) => setTimeout(r, 20));

describeEachBackend('record search', (h) => {
  const r: Record<string, string> = {};
  let robotB: ProvisionedRobot;
  let beforeEnhancing: string;
  let afterEnhancing: string;
  let createdBetween: string;
  let updatedBetween: string;

  before(async () => {
    [r.one, r.two, r.three] = await h().importRecords([
      {
        type: 'reference',
        identifiers: [{ type: 'doi', value: '10.1/one' }, { type: 'pmid', value: '1' }],
        content: { title: 'Deep Learning for Cats', year: 2021, tags: ['ml', 'cats'], authors: [{ name: 'Smith' }, { name: 'Jones' }], code: '12' },
      },
      {
        type: 'reference',
        identifiers: [{ type: 'doi', value: '10.1/two' }],
        content: { title: 'Dogs', year: 2019, tags: ['dogs'], authors: [{ name: 'Jones' }], abstract: 'About dogs.' },
        visibility: 'restricted',
      },
      { type: 'book', identifiers: [{ type: 'isbn', value: '978-3' }], content: { title: 'Shallow learning', year: 2020, code: 12 } },
    ]);
    await pause();
    createdBetween = new Date().toISOString();
    await pause();
    [r.four, r.five] = await h().importRecords([
      { type: 'reference', identifiers: [{ type: 'doi', value: '10.1/four' }], content: { year: '2021' }, visibility: 'hidden' },
      { type: 'reference', identifiers: [{ type: 'doi', value: '10.1/five' }], content: {} },
    ]);
    await pause();
    updatedBetween = new Date().toISOString();
    await pause();
    await h().importRecords([{ type: 'reference', identifiers: [{ type: 'pmid', value: '1' }], visibility: 'public' }]);

    const robotOne = await h().createRobot({ accepts: ['reference'] });
    robotB = await h().createRobot({ accepts: ['reference'] });
    beforeEnhancing = new Date(Date.now() - 1000).toISOString();
    await annotate(h(), robotOne, [r.one, r.two]);
    await annotate(h(), robotB, [r.two]);
    afterEnhancing = new Date(Date.now() + 1000).toISOString();
  });

  const expect = (query: () => string | RecordFilter, names: string[]) => async () => {
    const q = query();
    assert.deepEqual(await idsOf(h(), q), names.map((n) => r[n]).sort(), `${JSON.stringify(q)} should match ${names.join(', ')}`);
  };

  it('record type', expect(() => 'type:reference', ['one', 'two', 'four', 'five']));
  it('record type, as a filter', expect(() => ({ type: 'book' }), ['three']));
  it('identifiers by type', expect(() => 'identifier.doi:*', ['one', 'two', 'four', 'five']));
  it('identifiers by type and value', expect(() => 'identifier.doi:"10.1/two"', ['two']));
  it('identifiers by type, as a filter', expect(() => ({ identifier: { type: 'pmid' } }), ['one']));
  it('content equality: a string, and into arrays element by element', expect(() => 'content.tags:ml OR content.title:"Dogs"', ['one', 'two']));
  it('content equality: an unquoted number matches the number and its text', expect(() => 'content.code:12', ['one', 'three']));
  it('content equality: a quoted value is a string only', expect(() => 'content.code:"12"', ['one']));
  it('content ranges compare numbers only, not strings', expect(() => 'content.year:>=2020', ['one', 'three']));
  it('content ranges with bounds left out and in', expect(() => ({ content: { path: 'year', gte: 2019, lt: 2021 } }), ['two', 'three']));
  it('content in', expect(() => ({ content: { path: 'tags', in: ['dogs', 'cats'] } }), ['one', 'two']));
  it('content contains, in any case', expect(() => 'content.title:*LEARNING*', ['one', 'three']));
  it('content exists', expect(() => '_exists_:content.abstract', ['two']));
  it('JSON paths into arrays: any element', expect(() => 'content.authors.name:Jones', ['one', 'two']));
  it('JSON paths into arrays: one position', expect(() => 'content.authors.0.name:Jones', ['two']));
  it('JSON paths past the end of an array or into a scalar match nothing', expect(() => 'content.authors.5.name:* OR content.year.value:*', []));
  it('missing fields: a negated clause matches the records without the field', expect(() => 'NOT _exists_:content.abstract', ['one', 'three', 'four', 'five']));
  it('missing fields: NOT equality matches records without the field', expect(() => 'NOT content.title:"Dogs"', ['one', 'three', 'four', 'five']));
  it('has an enhancement of a type', expect(() => 'enhancement.annotation:*', ['one', 'two']));
  it('lacks an enhancement: records with no enhancements at all match', expect(() => 'NOT enhancement.annotation:*', ['three', 'four', 'five']));
  it('has an enhancement from a given robot', expect(() => ({ has_enhancement: { type: 'annotation', robot_id: robotB.id } }), ['two']));
  it('lacks an enhancement from a given robot', expect(() => `NOT enhancement.annotation:(robot_id:${robotB.id})`, ['one', 'three', 'four', 'five']));
  it('has an enhancement newer than a time', expect(() => ({ has_enhancement: { type: 'annotation', newer_than: beforeEnhancing } }), ['one', 'two']));
  it('has no enhancement newer than a later time', expect(() => ({ has_enhancement: { type: 'annotation', newer_than: afterEnhancing } }), []));
  it('visibility', expect(() => 'visibility:hidden OR visibility:restricted', ['two', 'four']));
  it('created time', expect(() => ({ created_at: { gte: createdBetween } }), ['four', 'five']));
  it('updated time', expect(() => ({ updated_at: { gt: updatedBetween } }), ['one']));
  it('and, or, not together', expect(() => 'type:reference AND (content.year:>=2020 OR visibility:restricted) AND NOT identifier.pmid:*', ['two']));
  it('the two forms of one query find the same records', async () => {
    const query = 'type:reference AND NOT enhancement.annotation:* AND (visibility:hidden OR content.year:*)';
    assert.deepEqual(await idsOf(h(), query), await idsOf(h(), parseQuery(query, 100)));
    assert.deepEqual(await idsOf(h(), query), [r.four]);
  });

  it('pages with a cursor, in id order, each record once', async () => {
    const ids = await h().importRecords(Array.from({ length: 25 }, (_, i) => ({ type: 'paged', identifiers: [{ type: 'n', value: String(i) }], content: { i } })));
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const res = await search(h(), { query: 'type:paged', limit: 10, cursor });
      assert.equal(res.status, 200);
      pages.push(res.body.data.map((x: { id: string }) => x.id));
      cursor = res.body.next_cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
    assert.deepEqual(pages.flat(), [...ids].sort());
    const first = (await search(h(), { query: 'type:paged', limit: 1 })).body.data[0];
    assert.deepEqual(first, (await h().api('GET', `/v1/records?type=paged&limit=1`)).body.data[0], 'records come as GET /v1/records gives them');
  });

  it('count_only answers the count', async () => {
    assert.deepEqual((await search(h(), { query: 'type:reference', count_only: true })).body, { count: 4 });
    assert.deepEqual((await search(h(), { filter: { type: 'nothing' }, count_only: true })).body, { count: 0 });
  });

  it('takes quotes, backslashes and regular expression characters in values as they are', async () => {
    const value = `x'); drop table records; --`;
    const [odd] = await h().importRecords([{ type: 'odd', identifiers: [{ type: 'odd', value }], content: { title: 'a\\b"c .* (' } }]);
    assert.deepEqual(await idsOf(h(), { identifier: { type: 'odd', value } }), [odd]);
    assert.deepEqual(await idsOf(h(), { content: { path: 'title', eq: 'a\\b"c .* (' } }), [odd]);
    assert.deepEqual(await idsOf(h(), 'content.title:*\\"c\\ .\\*\\ \\(*'), [odd]);
    assert.deepEqual(await idsOf(h(), 'type:odd AND content.title:*b.c*'), [], 'a dot is a dot, not any character');
  });

  it('refuses a bad query string with where it is wrong, and changes nothing', async () => {
    const before = await h().api('GET', '/v1/records?limit=1000');
    for (const [query, offset, message] of badQueries) {
      const res = await search(h(), { query });
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'invalid_query', query);
      assert.match(res.body.error.message, message, query);
      assert.deepEqual(res.body.error.details, { offset }, `${query}: ${res.body.error.message}`);
    }
    assert.deepEqual((await h().api('GET', '/v1/records?limit=1000')).body, before.body);
  });

  it('refuses a bad filter with the JSON pointer of the mistake', async () => {
    for (const [filter, pointer, message] of badFilters) {
      const res = await search(h(), { filter });
      assert.equal(res.status, 400, `${JSON.stringify(filter)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'invalid_query');
      assert.match(res.body.error.message, message, JSON.stringify(filter));
      assert.deepEqual(res.body.error.details, { pointer }, JSON.stringify(filter));
    }
  });

  it('refuses a value no record can hold, as every JSON body does, naming where it is', async () => {
    const res = await search(h(), { filter: { content: { path: 'x', contains: 'a\u0000b' } } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'invalid_request');
    assert.match(res.body.error.message, /filter\.content\.contains .*NUL/);
  });

  it('refuses absurd nesting, and oversized query strings', async () => {
    const deep = await search(h(), { filter: deepNot(40) });
    assert.equal(deep.status, 400);
    assert.deepEqual(deep.body.error.details, { pointer: '/filter' + '/not'.repeat(16) });
    const long = await search(h(), { query: 'content.title:' + 'a'.repeat(30_000) });
    assert.equal(long.status, 400);
    assert.deepEqual(long.body.error.details, { offset: 20_000 });
  });

  it('refuses a body with neither or both forms, or an unknown field', async () => {
    for (const body of [{}, { query: 'type:a', filter: { type: 'a' } }, { query: 'type:a', sort: 'id' }]) {
      const res = await search(h(), body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'invalid_request');
    }
  });

  it('refinery records search: lists, counts, and shows where a query is wrong', async () => {
    const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
    const refinery = (args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'records', 'search', ...args], { env: { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: h().adminKey, CI: 'true' } });
    const listed = JSON.parse((await refinery(['type:book', '--json'])).stdout) as Array<{ id: string }>;
    assert.deepEqual(listed.map((x) => x.id), [r.three]);
    const byFilter = JSON.parse((await refinery(['{"visibility": "hidden"}', '--json'])).stdout) as Array<{ id: string }>;
    assert.deepEqual(byFilter.map((x) => x.id), [r.four]);
    assert.match((await refinery(['type:reference', '--count'])).stdout, /^4 records match/);
    const failed = await refinery(['type:reference AND title:x']).then(
      () => assert.fail('a bad query succeeded'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(failed.code, 1);
    assert.ok(failed.stderr.includes(`type:reference AND title:x\n${' '.repeat(19)}^`), failed.stderr);
  });

  it('needs an API key', async () => {
    assert.equal((await h().api('POST', '/v1/records/search', { body: { query: 'type:a' }, key: null })).status, 401);
  });
});

describeEachBackend(
  'record search limits',
  (h) => {
    it('past the count cap, the count is a lower bound', async () => {
      await h().importRecords(Array.from({ length: 12 }, (_, i) => ({ type: i < 5 ? 'five' : 'seven', identifiers: [{ type: 'n', value: String(i) }] })));
      assert.deepEqual((await search(h(), { query: 'type:five OR type:seven', count_only: true })).body, { count: 10, lower_bound: true });
      assert.deepEqual((await search(h(), { query: 'type:seven', count_only: true })).body, { count: 7 });
      assert.deepEqual((await search(h(), { filter: { or: [{ type: 'five' }, { type: 'nothing' }] }, count_only: true })).body, { count: 5 });
    });

    it('a query of more clauses than REFINERY_QUERY_MAX_CLAUSES is refused at the first one too many', async () => {
      const res = await search(h(), { query: 'type:a OR type:b OR type:c OR type:d' });
      assert.equal(res.status, 400);
      assert.match(res.body.error.message, /more than 3 clauses/);
      assert.deepEqual(res.body.error.details, { offset: 30 });
      const filter = await search(h(), { filter: { content: { path: 'x', in: [1, 2, 3, 4] } } });
      assert.equal(filter.status, 400);
      assert.deepEqual(filter.body.error.details, { pointer: '/filter/content/in' });
      assert.equal((await search(h(), { query: 'type:a OR type:b OR type:c' })).status, 200);
    });
  },
  { env: { REFINERY_SEARCH_COUNT_CAP: '10', REFINERY_QUERY_MAX_CLAUSES: '3' } },
);

describeEachBackend(
  'record search time-out',
  (h) => {
    it('a search past REFINERY_SEARCH_TIMEOUT is stopped and refused with 422, and the next search runs', async (t) => {
      // PGlite has no timer to stop a statement with (docs/queries.md).
      if (h().backend === 'pglite') return t.skip('PGlite cannot stop a running statement');
      await h().importRecords([{ type: 'slow', identifiers: [{ type: 'n', value: 'slow-7' }], content: { title: 'a title' } }]);
      // Another session holds the records table, so the search waits past its time-out whatever the machine's speed.
      const other = new pg.Client({ connectionString: h().databaseUrl! });
      await other.connect();
      try {
        await other.query('begin');
        await other.query('lock table records in access exclusive mode');
        const res = await search(h(), { query: 'content.title:*nothing-like-this*', count_only: true });
        assert.equal(res.status, 422, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'query_timeout');
        assert.match(res.body.error.message, /REFINERY_SEARCH_TIMEOUT/);
        await other.query('rollback');
      } finally {
        await other.end();
      }
      assert.equal((await search(h(), { query: 'identifier.n:"slow-7"' })).body.data.length, 1);
    });
  },
  { env: { REFINERY_SEARCH_TIMEOUT: '0.5' } },
);
