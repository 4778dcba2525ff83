import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LeaseLostError, RefineryError, RobotClient } from '../src/index.ts';
import { errorReply, startServer, verifyRobotSignature } from './http-server.ts';
import { records, robotId, secret, startRobotApi, type RobotApi } from './robot-api.ts';

let api: RobotApi;
let client: RobotClient;
before(async () => {
  api = await startRobotApi();
  client = new RobotClient({ url: api.url, robotId, secret });
});
after(() => api.close());

test('lease signs the exact URL it calls, query string included, and answers null on 204', async () => {
  assert.equal(await client.lease({ limit: 5, lease: 'PT2M', wait: 0 }), null);
  const call = api.received.at(-1)!;
  assert.equal(call.url.search, '?limit=5&lease=PT2M&wait=0');
  assert.equal(verifyRobotSignature(call, { [robotId]: secret }), robotId);
});

test('an items download cut mid-file is fetched again while retryUntil allows, going on after the lines already given', async () => {
  const lines = Array.from({ length: 6 }, (_, i) => JSON.stringify({ record: { id: `r-${i}` } }) + '\n');
  const cut = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
  let calls = 0;
  /** The first answer breaks off in the fourth line; the next ones are whole. */
  const fetch = async () => {
    const first = ++calls === 1;
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!first) {
          controller.enqueue(new TextEncoder().encode(lines.join('')));
          return controller.close();
        }
        if (pulls++ === 0) controller.enqueue(new TextEncoder().encode(lines.slice(0, 3).join('') + '{"record":{"id"'));
        else controller.error(cut);
      },
    });
    return new Response(body, { status: 200 });
  };
  const cutting = new RobotClient({ url: api.url, robotId, secret, fetch });
  const batch = { items_url: `${api.url}/items` };
  const retries: unknown[] = [];
  const got: string[] = [];
  for await (const line of cutting.downloadItems(batch, { retryUntil: () => Date.now() + 10_000, onRetry: (err) => retries.push(err) })) got.push(line.record.id);
  assert.deepEqual(got, ['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-5']);
  assert.deepEqual([calls, retries], [2, [cut]]);

  // Without retryUntil: one attempt.
  calls = 0;
  got.length = 0;
  await assert.rejects(async () => {
    for await (const line of cutting.downloadItems(batch)) got.push(line.record.id);
  }, cut);
  assert.deepEqual([calls, got], [1, ['r-0', 'r-1', 'r-2']]);
});

test('a wrong secret is refused with a RefineryError carrying the server\'s code and message', async () => {
  const impostor = new RobotClient({ url: api.url, robotId, secret: 'wrong' });
  await assert.rejects(impostor.lease(), (err: unknown) => {
    assert.ok(err instanceof RefineryError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'unauthorized');
    assert.equal(err.message, 'bad signature');
    return true;
  });
});

test('a leased batch downloads as records, uploads results as JSONL, and posts them', async () => {
  api.queue(records(3));
  const batch = (await client.lease({ limit: 2 }))!;
  assert.equal(batch.item_count, 2);
  const downloaded = [];
  for await (const line of client.downloadItems(batch)) downloaded.push(line.record.id);
  assert.deepEqual(downloaded, ['r-0', 'r-1']);

  await client.uploadResults(batch, [
    { record_id: 'r-0', type: 'annotation', content: { n: 0 } },
    { record_id: 'r-1', error: { message: 'no luck' } },
  ]);
  const put = api.received.find((r) => r.method === 'PUT')!;
  assert.equal(put.headers['transfer-encoding'], 'chunked');
  assert.equal(put.headers['content-type'], 'application/x-ndjson');
  assert.equal(put.headers['signature'], undefined, 'signed URLs carry their own authorisation');

  assert.deepEqual(await client.postResults(batch.id, { lease_token: batch.lease_token }), { id: batch.id, status: 'importing' });
  const leased = api.leased.find((l) => l.batch.id === batch.id)!;
  assert.equal(leased.results!.length, 2);
  assert.deepEqual(leased.posted, { lease_token: batch.lease_token });
  await assert.rejects(client.postResults(batch.id, { lease_token: batch.lease_token }), LeaseLostError);
});

test('renew throws LeaseLostError on 409', async () => {
  api.queue(records(1));
  const batch = (await client.lease())!;
  api.onRenew = () => errorReply(409, 'lease_expired', 'the lease expired');
  try {
    await assert.rejects(client.renew(batch.id, 'PT1M'), LeaseLostError);
    assert.equal(api.received.at(-1)!.url.search, '?lease=PT1M');
  } finally {
    api.onRenew = undefined;
  }
});

test('uploadResults with spool sends a Content-Length instead of chunks', async () => {
  const server = await startServer(() => ({ status: 200 }));
  try {
    const lines = Array.from({ length: 500 }, (_, i) => ({ record_id: `r-${i}`, type: 't', content: { i } }));
    await client.uploadResults({ results_url: `${server.url}/put` }, lines, { spool: true });
    const put = server.received[0]!;
    assert.equal(put.headers['transfer-encoding'], undefined);
    assert.equal(Number(put.headers['content-length']), put.body.length);
    assert.equal(put.body.toString().split('\n').length, 501);
  } finally {
    await server.close();
  }
});

for (const [size, lineCount, filler] of [['a small file', 500, 10], ['a file past what is kept in memory', 2_500, 4_000]] as const) {
  test(`uploadResults with retryUntil sends ${size} again, whole, after a 503, without asking for its lines again`, async () => {
    let puts = 0;
    const server = await startServer(() => (++puts === 1 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 }));
    let asked = 0;
    function* lines() {
      for (let i = 0; i < lineCount; i++, asked++) yield { record_id: `r-${i}`, type: 't', content: { text: 'x'.repeat(filler) } };
    }
    try {
      await client.uploadResults({ results_url: `${server.url}/put` }, lines(), { retryUntil: () => Date.now() + 10_000 });
      assert.equal(server.received.length, 2);
      assert.equal(asked, lineCount);
      const [first, second] = server.received.map((r) => r.body.toString());
      assert.equal(second, first);
      assert.equal(second.split('\n').length, lineCount + 1);
      assert.equal(JSON.parse(second.split('\n')[lineCount - 1]).record_id, `r-${lineCount - 1}`);
    } finally {
      await server.close();
    }
  });
}

test('uploadResults rethrows the error of the lines it was streaming', async () => {
  const server = await startServer(() => ({ status: 200 }));
  async function* failing() {
    yield { record_id: 'r-0', type: 't', content: {} };
    throw new Error('handler broke');
  }
  try {
    await assert.rejects(client.uploadResults({ results_url: `${server.url}/put` }, failing()), /handler broke/);
  } finally {
    await server.close();
  }
});
