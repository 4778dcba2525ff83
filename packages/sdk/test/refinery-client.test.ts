import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { RequestOut } from '@refinery/protocol';
import { RefineryClient, RefineryError } from '../src/index.ts';
import { errorReply, startServer, type Route } from './http-server.ts';

async function withClient(route: Route, use: (client: RefineryClient, received: Awaited<ReturnType<typeof startServer>>['received']) => Promise<void>) {
  const server = await startServer(route);
  try {
    await use(new RefineryClient({ url: `${server.url}/`, apiKey: 'key-1' }), server.received);
  } finally {
    await server.close();
  }
}

const importAnswer = { status: 200, json: { ids: ['x'], created: 1, updated: 0 } };

test('importRecords streams records as JSONL with the API key', async () => {
  async function* generated() {
    for (let i = 0; i < 3; i++) yield { type: 'reference', identifiers: [{ type: 'doi', value: `10.1/${i}` }] };
  }
  await withClient(
    () => importAnswer,
    async (client, received) => {
      assert.deepEqual(await client.importRecords(generated()), importAnswer.json);
      const [call] = received;
      assert.equal(call!.url.pathname, '/v1/records');
      assert.equal(call!.headers.authorization, 'Bearer key-1');
      assert.equal(call!.headers['content-type'], 'application/x-ndjson');
      assert.equal(call!.headers['transfer-encoding'], 'chunked');
      assert.deepEqual(call!.body.toString().trim().split('\n').map((l) => JSON.parse(l).identifiers[0].value), ['10.1/0', '10.1/1', '10.1/2']);
    },
  );
});

test('importRecords sends a Readable as it is, typed by its first character', async () => {
  await withClient(
    () => importAnswer,
    async (client, received) => {
      await client.importRecords(Readable.from(['  \n', '[{"type":"reference",', '"identifiers":[{"type":"doi","value":"1"}]}]']));
      await client.importRecords(Readable.from([Buffer.from('{"type":"reference","identifiers":[{"type":"doi","value":"1"}]}\n')]));
      assert.equal(received[0]!.headers['content-type'], 'application/json');
      assert.equal(received[0]!.body.toString(), '  \n[{"type":"reference","identifiers":[{"type":"doi","value":"1"}]}]');
      assert.equal(received[1]!.headers['content-type'], 'application/x-ndjson');
    },
  );
});

test('errors carry the server\'s status, code, message, details and request id', async () => {
  await withClient(
    () => ({ status: 422, json: { error: { code: 'validation_failed', message: 'record_ids: too few', details: { path: '/record_ids' } } }, headers: { 'x-request-id': 'req-7' } }),
    async (client) => {
      await assert.rejects(client.createRequest({ robot_id: 'r', record_ids: [] }), (err: unknown) => {
        assert.ok(err instanceof RefineryError);
        assert.deepEqual([err.status, err.code, err.message, err.details, err.requestId], [422, 'validation_failed', 'record_ids: too few', { path: '/record_ids' }, 'req-7']);
        return true;
      });
    },
  );
});

test('an answer that is not Refinery\'s JSON still makes a readable error', async () => {
  await withClient(
    () => ({ status: 502, body: '<html>Bad Gateway</html>' }),
    async (client) => {
      await assert.rejects(client.getRecord('abc'), { status: 502, code: 'http_502', message: 'HTTP 502 Bad Gateway: <html>Bad Gateway</html>' });
    },
  );
});

test('createRequest sends the Idempotency-Key header', async () => {
  await withClient(
    () => ({ status: 202, json: { id: 'q' } }),
    async (client, received) => {
      await client.createRequest({ robot_id: 'r', record_ids: ['a'] }, { idempotencyKey: 'once' });
      assert.equal(received[0]!.headers['idempotency-key'], 'once');
      assert.deepEqual(JSON.parse(received[0]!.body.toString()), { robot_id: 'r', record_ids: ['a'] });
    },
  );
});

test('iterateRequestItems follows next_cursor through every page', async () => {
  const pages: Record<string, { data: unknown[]; next_cursor: string | null }> = {
    '': { data: [{ record_id: '1' }, { record_id: '2' }], next_cursor: 'p2' },
    p2: { data: [{ record_id: '3' }], next_cursor: null },
  };
  await withClient(
    (req) => ({ status: 200, json: pages[req.url.searchParams.get('cursor') ?? ''] }),
    async (client, received) => {
      const ids = [];
      for await (const item of client.iterateRequestItems('q1', { status: 'failed', limit: 2 })) ids.push(item.record_id);
      assert.deepEqual(ids, ['1', '2', '3']);
      assert.equal(received[1]!.url.search, '?status=failed&limit=2&cursor=p2');
      assert.equal(received[1]!.url.pathname, '/v1/requests/q1/items');
    },
  );
});

test('waitForRequest polls through transient failures until the request is final', async () => {
  const statuses = ['received', 'unavailable', 'processing', 'completed_with_errors'];
  let call = 0;
  await withClient(
    () => {
      const status = statuses[call++]!;
      return status === 'unavailable' ? errorReply(503, 'unavailable', 'restarting') : { status: 200, json: { id: 'q1', status } };
    },
    async (client) => {
      const seen: string[] = [];
      const final = await client.waitForRequest('q1', { intervalMs: 5, onProgress: (r: RequestOut) => seen.push(r.status) });
      assert.equal(final.status, 'completed_with_errors');
      assert.deepEqual(seen, ['received', 'processing', 'completed_with_errors']);
    },
  );
});
