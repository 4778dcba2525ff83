import assert from 'node:assert/strict';
import { it } from 'node:test';
import { countingStatements, describeEachBackend, references } from './support/harness.ts';

describeEachBackend('requests', (h) => {
  it('denies items whose record is missing, of a type the robot does not accept, or hidden, with the reason', async () => {
    const robot = await h().createRobot({ accepts: ['reference'] });
    const [ok] = await h().importRecords(references(1));
    const [photo] = await h().importRecords([{ type: 'photo', identifiers: [{ type: 'asset', value: `a-${Date.now()}` }] }]);
    const [hidden] = await h().importRecords([{ type: 'reference', visibility: 'hidden', identifiers: [{ type: 'doi', value: `10.2/hidden-${Date.now()}` }] }]);
    const missing = '01900000-0000-7000-8000-0000000000aa';
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [ok, photo, hidden, missing, ok] } });
    assert.equal(res.status, 202);
    assert.equal(res.body.total, 4, 'a record named twice counts once');
    assert.deepEqual({ pending: res.body.counts.pending, denied: res.body.counts.denied }, { pending: 1, denied: 3 });
    const items = await h().api('GET', `/v1/requests/${res.body.id}/items?status=denied`);
    const byRecord = Object.fromEntries(items.body.data.map((i: { record_id: string; error: { code: string; message: string } }) => [i.record_id, i.error]));
    assert.equal(byRecord[missing].code, 'record_not_found');
    assert.match(byRecord[missing].message, /does not exist/);
    assert.equal(byRecord[photo].code, 'type_not_accepted');
    assert.match(byRecord[photo].message, /accepts reference.*photo/);
    assert.equal(byRecord[hidden].code, 'record_hidden');
  });

  it('fails at once a request whose every item is denied, and writes its manifest', async () => {
    const robot = await h().createRobot();
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ['01900000-0000-7000-8000-0000000000bb'] } });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'failed');
    assert.ok(res.body.finished_at);
  });

  it('refuses an unknown robot with 422', async () => {
    const res = await h().api('POST', '/v1/requests', { body: { robot_id: '01900000-0000-7000-8000-0000000000cc', record_ids: ['01900000-0000-7000-8000-0000000000bb'] } });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'unknown_robot');
  });

  it('creates 100,000 items in a statement per slice of 10,000 and pages through all of them', async () => {
    const robot = await h().createRobot();
    const ids: string[] = [];
    for (let part = 0; part < 4; part++) ids.push(...(await h().importRecords(references(25_000))));

    // Count every statement the database sees while the request is created and its backlog written.
    const { statements, result: res } = await countingStatements(h(), async () => {
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      await h().refinery.background.drain();
      return created;
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.counts.pending, 100_000);
    const slices = 100_000 / h().refinery.ctx.config.createSlice;
    assert.equal(slices, 10);
    assert.ok(statements <= 12 + slices, `creating the request took ${statements} statements`);

    let seen = 0;
    let cursor: string | null = null;
    do {
      const page: { body: { data: unknown[]; next_cursor: string | null } } = await h().api('GET', `/v1/requests/${res.body.id}/items?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      seen += page.body.data.length;
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.equal(seen, 100_000);
  });

  it('reads a body sent in small chunks without a length, and refuses one that runs past 64 MiB with 413', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords(references(3));
    const chunked = (parts: Iterable<string>) =>
      fetch(`${h().url}/v1/requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h().adminKey}`, 'content-type': 'application/json' },
        body: new ReadableStream({
          start(controller) {
            for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);

    // Cut anywhere, even inside an id: the ids arrive whole and in order, a repeat counts once.
    const text = JSON.stringify({ record_ids: [ids[2], ids[0], ids[2], ids[1]], priority: 'high', robot_id: robot.id });
    const res = await chunked(text.match(/.{1,7}/gs)!);
    assert.equal(res.status, 202);
    const created = await res.json();
    assert.equal(created.total, 3);
    assert.equal(created.priority, 'high');
    const items = await h().api('GET', `/v1/requests/${created.id}/items`);
    assert.deepEqual(new Set(items.body.data.map((i: { record_id: string }) => i.record_id)), new Set(ids));

    const before = await h().api('GET', '/v1/requests?limit=1000');
    const huge = await chunked((function* () {
      yield `{"robot_id":"${robot.id}","record_ids":["${ids[0]}"`;
      for (let i = 0; i < 65; i++) yield ' '.repeat(1024 * 1024);
      yield ']}';
    })());
    assert.equal(huge.status, 413);
    assert.equal((await huge.json()).error.code, 'payload_too_large');
    const after = await h().api('GET', '/v1/requests?limit=1000');
    assert.equal(after.body.data.length, before.body.data.length, 'nothing was created');
  });
});
