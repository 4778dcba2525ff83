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
