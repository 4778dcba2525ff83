import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describeEachBackend, references, type Harness } from './support/harness.ts';
import { exchange, openUpload, type Upload } from './support/rawHttp.ts';

const jsonl = (records: unknown[]) => records.map((r) => JSON.stringify(r) + '\n').join('');

/** Records with DOIs under `prefix`, and whether any of them is stored. */
function tagged(prefix: string, n: number) {
  return references(n, prefix);
}
async function storedCount(h: Harness, prefix: string, n: number): Promise<number> {
  let found = 0;
  for (let i = 0; i < n; i++) {
    const res = await h.api('GET', `/v1/records?identifier=${encodeURIComponent(`doi:10.1000/${prefix}/${i}`)}`);
    assert.equal(res.status, 200);
    found += res.body.data.length;
  }
  return found;
}

function recordsUpload(h: Harness): Upload {
  return openUpload(`${h.url}/v1/records`, { headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': 'application/x-ndjson' } });
}

/** Log lines at error or above, and answers logged with a 5xx status. */
function logWatch() {
  const lines: Array<{ level: number; msg?: string; res?: { statusCode?: number } }> = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, callback) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        callback();
      },
    }),
  );
  return { log, problems: () => lines.filter((l) => l.level >= 50 || (l.res?.statusCode ?? 0) >= 500) };
}

describeEachBackend('clients that stall or vanish hold nothing', (h) => {
  it('a stalled records upload and an aborted one: imports alongside finish, the database answers, and neither writes anything', async () => {
    const stalledPrefix = `stalled-${Date.now()}`;
    const abortedPrefix = `aborted-${Date.now()}`;
    const stalled = recordsUpload(h());
    const stalledLines = jsonl(tagged(stalledPrefix, 3));
    // Two whole records and half of the third, then nothing.
    stalled.write(stalledLines.slice(0, stalledLines.length - 20));
    const aborted = recordsUpload(h());
    aborted.write(jsonl(tagged(abortedPrefix, 3)));
    await new Promise((r) => setTimeout(r, 200));
    aborted.abort();
    await aborted.closed;

    const normal = await Promise.all([0, 1, 2].map((i) => h().api('POST', '/v1/records', { body: tagged(`normal-${i}-${Date.now()}`, 50) })));
    for (const res of normal) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ids.length, 50);
    }
    assert.equal((await h().api('GET', '/readyz')).status, 200);
    assert.equal((await h().api('GET', `/v1/records/${normal[0].body.ids[0]}`)).status, 200);

    assert.equal(await storedCount(h(), stalledPrefix, 3), 0);
    assert.equal(await storedCount(h(), abortedPrefix, 3), 0);
    stalled.abort();
    await stalled.closed;
    assert.equal(await storedCount(h(), stalledPrefix, 3), 0);
  });
});

describeEachBackend(
  'a body that stalls is answered 408 (REFINERY_BODY_TIMEOUT=1)',
  (h) => {
    it('ends a stalled records upload with 408 in the error shape, closes its connection and writes nothing', async () => {
      const prefix = `timed-out-${Date.now()}`;
      const upload = recordsUpload(h());
      upload.write(jsonl(tagged(prefix, 2)));
      const answer = await upload.answer;
      assert.equal(answer.status, 408);
      assert.equal(answer.body.error.code, 'body_timeout');
      assert.match(answer.body.error.message, /stalled/);
      assert.equal(answer.headers.connection, 'close');
      await upload.closed;
      assert.equal(await storedCount(h(), prefix, 2), 0);
      assert.equal((await h().api('POST', '/v1/records', { body: tagged(`after-${prefix}`, 2) })).status, 200);
    });

    it('ends a stalled JSON body with 408, and a stalled robot call', async () => {
      const upload = openUpload(`${h().url}/v1/robots`, { headers: { authorization: `Bearer ${h().adminKey}`, 'content-type': 'application/json' } });
      upload.write('{"name": "half a robot", ');
      const answer = await upload.answer;
      assert.equal(answer.status, 408);
      assert.equal(answer.body.error.code, 'body_timeout');
      await upload.closed;

      const robot = await h().createRobot();
      const lease = openUpload(`${h().url}/v1/batches/lease`, { headers: { 'content-type': 'application/json', 'signature-input': `sig1=();keyid="${robot.id}"` } });
      lease.write('{');
      assert.equal((await lease.answer).status, 408);
    });

    it('ends a stalled results upload with 408 and keeps no part of it; a whole upload after it works', async () => {
      const robot = await h().createRobot();
      const recordIds = await h().importRecords(references(2));
      assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
      const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(leased.status, 200);
      const lines = recordIds.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: { score: 1 } }) + '\n');

      const upload = openUpload(leased.body.results_url, { method: 'PUT' });
      upload.write(lines[0]);
      const answer = await upload.answer;
      assert.equal(answer.status, 408);
      assert.equal(answer.body.error.code, 'body_timeout');
      await upload.closed;
      const early = await h().robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token });
      assert.equal(early.status, 409);
      assert.equal(early.body.error.code, 'results_missing');

      assert.equal((await fetch(leased.body.results_url, { method: 'PUT', body: lines.join('') })).status, 200);
      assert.equal((await h().robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token })).status, 202);
      await h().refinery.background.drain();
      for (const id of recordIds) assert.equal((await h().api('GET', `/v1/records/${id}`)).body.enhancements.length, 1);
    });

    it('times bodies only: a long poll waits out its `wait`, longer than the body time-out', async () => {
      const robot = await h().createRobot();
      const res = await h().robotCall(robot, 'POST', '/v1/batches/lease?wait=2.5');
      assert.equal(res.status, 204);
    });
  },
  { env: { REFINERY_BODY_TIMEOUT: '1' } },
);

const watched = logWatch();
describeEachBackend(
  'connections and the HTTP layer',
  (h) => {
    it('closes the connection after an answer sent before its body was read to the end', async () => {
      const big = JSON.stringify({ type: 'reference', identifiers: [{ type: 'doi', value: '10.1/big' }], content: 'x'.repeat(1024 * 1024 + 10) });
      const head = (extra: string) => `POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n${extra}\r\n`;
      const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
      // A line over the limit, the body not ended: the 413 comes, and the connection closes (left
      // open, its next request would be read from the middle of this body, or never).
      const tooLong = await exchange(h().url, head(`Authorization: Bearer ${h().adminKey}\r\n`) + chunk(big) + chunk('\n'));
      assert.equal(tooLong.status, 413);
      assert.equal(tooLong.body.error.code, 'payload_too_large');
      assert.equal(tooLong.headers.connection, 'close');
      // Unauthorised, the body still coming.
      const unauthorised = openUpload(`${h().url}/v1/records`, { headers: { 'content-type': 'application/x-ndjson' } });
      unauthorised.write(jsonl(references(1)));
      const answer = await unauthorised.answer;
      assert.equal(answer.status, 401);
      assert.equal(answer.headers.connection, 'close');
      await unauthorised.closed;
    });

    it('answers what is not HTTP in the error shape: headers over 16 KB (431), broken chunking and garbage (400)', async () => {
      const cases = [
        { status: 431, bytes: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n` },
        { status: 400, bytes: `POST /v1/records HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-ndjson\r\n\r\nzz\r\nnot a chunk\r\n` },
        { status: 400, bytes: 'hello there\r\n\r\n' },
      ];
      for (const c of cases) {
        const answer = await exchange(h().url, c.bytes);
        assert.equal(answer.status, c.status, answer.raw);
        assert.equal(typeof answer.body.error.code, 'string', answer.raw);
        assert.equal(typeof answer.body.error.message, 'string', answer.raw);
        assert.equal(answer.headers.connection, 'close');
      }
    });

    it('logs a dropped connection as such, never as an error or a 500; an aborted results upload leaves no file', async () => {
      const robot = await h().createRobot();
      const recordIds = await h().importRecords(references(2));
      assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
      const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease');
      assert.equal(leased.status, 200);

      const records = recordsUpload(h());
      records.write(jsonl(references(5)));
      const json = openUpload(`${h().url}/v1/robots`, { headers: { authorization: `Bearer ${h().adminKey}`, 'content-type': 'application/json' } });
      json.write('{"name": ');
      const results = openUpload(leased.body.results_url, { method: 'PUT' });
      results.write(JSON.stringify({ record_id: recordIds[0], type: 'annotation', content: { score: 1 } }) + '\n');
      await new Promise((r) => setTimeout(r, 200));
      for (const upload of [records, json, results]) upload.abort();
      await Promise.all([records.closed, json.closed, results.closed]);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(watched.problems(), []);
      assert.equal((await h().api('GET', '/readyz')).status, 200);
      const posted = await h().robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token });
      assert.equal(posted.status, 409);
      assert.equal(posted.body.error.code, 'results_missing');
    });
  },
  { log: watched.log },
);
