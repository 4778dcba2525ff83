import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachBackend, references } from './support/harness.ts';

describeEachBackend('records', (h) => {
  it('imports a JSON array and returns the ids in the order sent', async () => {
    const sent = references(3);
    const res = await h().api('POST', '/v1/records', { body: sent });
    assert.equal(res.status, 200);
    assert.equal(res.body.ids.length, 3);
    assert.equal(res.body.created, 3);
    for (const [i, id] of res.body.ids.entries()) {
      const got = await h().api('GET', `/v1/records/${id}`);
      assert.deepEqual(got.body.identifiers, sent[i].identifiers);
      assert.deepEqual(got.body.content, sent[i].content);
      assert.deepEqual(got.body.enhancements, []);
      assert.equal(got.body.visibility, 'public');
    }
  });

  it('upserts by identifier: the same DOI updates the record it names and adds new identifiers', async () => {
    const [first] = references(1);
    const [id] = await h().importRecords([first]);
    const again = await h().api('POST', '/v1/records', {
      raw: JSON.stringify({ type: 'reference', identifiers: [first.identifiers[0], { type: 'pmid', value: `p-${id}` }], content: { title: 'Updated' } }) + '\n',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { ids: [id], created: 0, updated: 1 });
    const got = await h().api('GET', `/v1/records/${id}`);
    assert.deepEqual(got.body.content, { title: 'Updated' });
    assert.equal(got.body.identifiers.length, 2);
    const byPmid = await h().api('GET', `/v1/records?identifier=${encodeURIComponent(`pmid:p-${id}`)}`);
    assert.deepEqual(byPmid.body.data.map((r: { id: string }) => r.id), [id]);
  });

  it('keeps what a re-sent record leaves out: content and visibility', async () => {
    const [first] = references(1);
    const [id] = await h().importRecords([{ ...first, visibility: 'restricted' }]);
    const again = await h().api('POST', '/v1/records', { body: [{ type: 'reference', identifiers: first.identifiers }] });
    assert.deepEqual(again.body, { ids: [id], created: 0, updated: 1 });
    const got = await h().api('GET', `/v1/records/${id}`);
    assert.deepEqual(got.body.content, first.content);
    assert.equal(got.body.visibility, 'restricted');
  });

  it('gives two records sent together that share an identifier one id', async () => {
    const doi = { type: 'doi', value: `10.9/shared-${Date.now()}` };
    const res = await h().api('POST', '/v1/records', {
      body: [
        { type: 'reference', identifiers: [doi], content: { v: 1 } },
        { type: 'reference', identifiers: [doi, { type: 'isbn', value: `i-${Date.now()}` }], content: { v: 2 } },
      ],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.ids[0], res.body.ids[1]);
    assert.equal(res.body.created, 1);
    assert.deepEqual((await h().api('GET', `/v1/records/${res.body.ids[0]}`)).body.content, { v: 2 });
  });

  it('records sent together that share identifiers, directly or through others, are one record holding all their identifiers', async () => {
    const tag = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const id = (type: string, n: number) => ({ type, value: `${tag}-${n}` });
    const res = await h().api('POST', '/v1/records', {
      body: [
        { type: 'reference', identifiers: [id('doi', 1)], content: { v: 1 } },
        { type: 'reference', identifiers: [id('doi', 2)], content: { v: 'other' } },
        { type: 'reference', identifiers: [id('doi', 1), id('pmid', 1)], content: { v: 2 } },
        // Shares nothing with the first, only with the third.
        { type: 'reference', identifiers: [id('pmid', 1), id('isbn', 1)], content: { v: 3 } },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [one, other, three, four] = res.body.ids;
    assert.deepEqual([three, four], [one, one]);
    assert.notEqual(other, one);
    assert.equal(res.body.created, 2);
    const merged = (await h().api('GET', `/v1/records/${one}`)).body;
    assert.deepEqual(merged.content, { v: 3 }, 'the last one sent wins');
    assert.deepEqual(merged.identifiers, [id('doi', 1), id('isbn', 1), id('pmid', 1)]);
    for (const i of merged.identifiers) {
      const found = await h().api('GET', `/v1/records?identifier=${encodeURIComponent(`${i.type}:${i.value}`)}`);
      assert.deepEqual(found.body.data.map((r: { id: string }) => r.id), [one]);
    }

    // Sent again later, each with a new identifier: the stored record gains both.
    const again = await h().api('POST', '/v1/records', {
      body: [
        { type: 'reference', identifiers: [id('doi', 1), id('arxiv', 1)] },
        { type: 'reference', identifiers: [id('isbn', 1), id('arxiv', 2)] },
      ],
    });
    assert.deepEqual(again.body, { ids: [one, one], created: 0, updated: 1 });
    const grown = (await h().api('GET', `/v1/records/${one}`)).body;
    assert.deepEqual(grown.identifiers, [id('arxiv', 1), id('arxiv', 2), id('doi', 1), id('isbn', 1), id('pmid', 1)]);
    assert.deepEqual(grown.content, { v: 3 });
  });

  it('refuses a record that names identifiers of two different records: 409 naming them, nothing changed', async () => {
    const [first, second, fresh] = references(3);
    const [firstId, secondId] = await h().importRecords([first, second]);
    const snapshot = async () => [await h().api('GET', `/v1/records/${firstId}`), await h().api('GET', `/v1/records/${secondId}`)].map((r) => r.body);
    const before = await snapshot();

    const both = { type: 'reference', identifiers: [...first.identifiers, ...second.identifiers], content: { title: 'Both' } };
    const res = await h().api('POST', '/v1/records', { body: [fresh, both] });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'identifier_conflict');
    assert.match(res.body.error.message, /^record 2 /);
    assert.ok(res.body.error.message.includes(firstId) && res.body.error.message.includes(secondId), res.body.error.message);
    assert.deepEqual(res.body.error.details, {
      conflicts: [
        {
          records: [2],
          identifiers: [
            { ...first.identifiers[0], record_id: firstId },
            { ...second.identifiers[0], record_id: secondId },
          ].sort((a, b) => a.value.localeCompare(b.value)),
        },
      ],
    });
    assert.deepEqual(await snapshot(), before);
    const freshLookup = await h().api('GET', `/v1/records?identifier=${encodeURIComponent(`doi:${fresh.identifiers[0].value}`)}`);
    assert.deepEqual(freshLookup.body.data, [], 'the other record of the import was not imported either');

    // Two records of one import that share an identifier, each naming another existing record: the same.
    const shared = { type: 'isbn', value: `shared-${Date.now()}` };
    const split = await h().api('POST', '/v1/records', {
      body: [
        { type: 'reference', identifiers: [first.identifiers[0], shared] },
        { type: 'reference', identifiers: [shared, second.identifiers[0]] },
      ],
    });
    assert.equal(split.status, 409, JSON.stringify(split.body));
    assert.equal(split.body.error.code, 'identifier_conflict');
    assert.deepEqual(split.body.error.details.conflicts[0].records, [1, 2]);
    assert.match(split.body.error.message, /^records 1 and 2, which share identifiers, name identifiers of 2 different records/);
    assert.deepEqual(await snapshot(), before);
  });

  it('streams 100,000 JSONL records in one call', async () => {
    const prefix = `bulk-${Date.now()}`;
    const total = 100_000;
    const body = new ReadableStream<Uint8Array>({
      start() {},
      pull: (() => {
        let i = 0;
        const enc = new TextEncoder();
        return (controller: ReadableStreamDefaultController<Uint8Array>) => {
          if (i >= total) return controller.close();
          let chunk = '';
          for (let n = 0; n < 5000 && i < total; n++, i++) {
            chunk += JSON.stringify({ type: 'reference', identifiers: [{ type: 'doi', value: `10.1/${prefix}/${i}` }], content: { title: `Title ${i}`, year: 2000 + (i % 25) } }) + '\n';
          }
          controller.enqueue(enc.encode(chunk));
        };
      })(),
    });
    const res = await fetch(`${h().url}/v1/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h().adminKey}`, 'content-type': 'application/x-ndjson' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 200);
    const out = (await res.json()) as { ids: string[]; created: number };
    assert.equal(out.ids.length, total);
    assert.equal(out.created, total);
    assert.equal(new Set(out.ids).size, total);
    const last = await h().api('GET', `/v1/records/${out.ids[total - 1]}`);
    assert.deepEqual(last.body.identifiers, [{ type: 'doi', value: `10.1/${prefix}/${total - 1}` }]);
  });

  it('reads a JSON array cut anywhere, whatever its strings hold: brackets, commas, escaped quotes, any character', async () => {
    const prefix = `tricky-${Date.now()}`;
    const contents = [{ title: 'a, b] c} \\" [d', nested: [[1, [2]], { x: '}' }] }, 'just a "string", with ] and }', { emoji: 'é 😀 \u2028', empty: {} }, [], 42];
    const records = contents.map((content, i) => ({ type: 'reference', identifiers: [{ type: 'doi', value: `10.1/${prefix}/${i}` }], content }));
    const bytes = Buffer.from(` [ ${records.map((r, i) => JSON.stringify(r, null, i === 1 ? 2 : 0)).join(' ,\n')} ] \n`);
    // 7 bytes a chunk: chunks end inside strings, escapes and multi-byte characters.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 7) controller.enqueue(bytes.subarray(at, at + 7));
        controller.close();
      },
    });
    const res = await fetch(`${h().url}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${h().adminKey}`, 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 200, await res.clone().text());
    const { ids } = (await res.json()) as { ids: string[] };
    assert.equal(ids.length, contents.length);
    for (const [i, id] of ids.entries()) assert.deepEqual((await h().api('GET', `/v1/records/${id}`)).body.content, contents[i]);
  });

  it('takes a record of up to 1 MiB of JSON, and refuses one byte more with 413, the same in a JSON array and in JSONL', async () => {
    const limit = 1024 * 1024;
    /** A record whose JSON text is exactly `bytes` long. */
    const recordOf = (bytes: number, doi: string) => {
      const record = { type: 'reference', identifiers: [{ type: 'doi', value: doi }], content: '' };
      return { ...record, content: 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(record))) };
    };
    const send = (body: string, contentType: string) => h().api('POST', '/v1/records', { raw: body, headers: { 'content-type': contentType } });
    const forms = {
      'JSON array': (r: unknown) => send(`[${JSON.stringify(r)}]`, 'application/json'),
      JSONL: (r: unknown) => send(`${JSON.stringify(r)}\n`, 'application/x-ndjson'),
    };
    for (const [form, sendOne] of Object.entries(forms)) {
      const doi = `10.1/limit/${form}/${Date.now()}`;
      const atLimit = recordOf(limit, doi);
      assert.equal(Buffer.byteLength(JSON.stringify(atLimit)), limit);
      const accepted = await sendOne(atLimit);
      assert.equal(accepted.status, 200, `${form}: ${JSON.stringify(accepted.body)}`);
      const refused = await sendOne(recordOf(limit + 1, `${doi}/over`));
      assert.equal(refused.status, 413, form);
      assert.equal(refused.body.error.code, 'payload_too_large');
      assert.match(refused.body.error.message, /record 1 is larger than 1048576 bytes/);
    }
  });

  it('imports nothing when one record in the stream is invalid, and says which', async () => {
    const before = await h().refinery.ctx.db.query<{ n: number }>('select count(*)::int as n from records');
    const lines = references(3).map((r) => JSON.stringify(r));
    lines.splice(1, 0, JSON.stringify({ type: 'reference', identifiers: [] }));
    const res = await h().api('POST', '/v1/records', { raw: lines.join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /record 2 identifiers/);
    const after = await h().refinery.ctx.db.query<{ n: number }>('select count(*)::int as n from records');
    assert.equal(after.rows[0].n, before.rows[0].n);
  });

  it('refuses a record whose content or identifiers PostgreSQL cannot store (a NUL, a lone surrogate): 400 naming the record and field, nothing imported', async () => {
    const count = async () => (await h().refinery.ctx.db.query<{ n: number }>('select count(*)::int as n from records')).rows[0].n;
    const before = await count();
    const fine = JSON.stringify(references(1)[0]);
    const doi = (value: string) => `{"type":"reference","identifiers":[{"type":"doi","value":"${value}"}]`;
    // Raw text: each `\\u…` below is the six characters of a JSON escape.
    const cases: Array<{ record: string; field: string; problem: RegExp }> = [
      { record: `${doi(`10.1/nul-${Date.now()}`)},"content":{"title":"a\\u0000b"}}`, field: 'content.title', problem: /NUL character/ },
      { record: `${doi(`10.1/lone-\\ud800-${Date.now()}`)}}`, field: 'identifiers[0].value', problem: /lone surrogate/ },
      { record: `${doi(`10.1/nul-\\u0000-${Date.now()}`)}}`, field: 'identifiers[0].value', problem: /NUL character/ },
      { record: `${doi(`10.1/key-${Date.now()}`)},"content":{"authors":[{"\\udc00":1}]}}`, field: 'content.authors[0]', problem: /key that holds a lone surrogate/ },
      { record: `${doi(`10.1/big-${Date.now()}`)},"content":{"n":1e999}}`, field: 'content.n', problem: /number too large/ },
    ];
    for (const { record, field, problem } of cases) {
      for (const [contentType, body] of [
        ['application/json', `[${fine},${record}]`],
        ['application/x-ndjson', `${fine}\n${record}\n`],
      ]) {
        const res = await h().api('POST', '/v1/records', { raw: body, headers: { 'content-type': contentType } });
        assert.equal(res.status, 400, `${record} as ${contentType}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'invalid_request');
        assert.match(res.body.error.message, new RegExp(`^record 2 ${field.replace(/[[\].]/g, '\\$&')} `));
        assert.match(res.body.error.message, problem);
        assert.deepEqual(res.body.error.details, { record: 2, field });
      }
    }
    assert.equal(await count(), before);
  });

  it('lists by type with cursor paging that visits every record once', async () => {
    const type = `photo${Date.now()}`;
    const ids = await h().importRecords(Array.from({ length: 7 }, (_, i) => ({ type, identifiers: [{ type: 'asset', value: `${type}-${i}` }] })));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { data: Array<{ id: string }>; next_cursor: string | null } } = await h().api('GET', `/v1/records?type=${type}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.body.data.map((r) => r.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen.sort(), [...ids].sort());
  });

  it('answers 404 for a record that does not exist', async () => {
    const res = await h().api('GET', '/v1/records/01900000-0000-7000-8000-000000000000');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });
});
