import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestFetch } from '../src/index.ts';
import { isTransient, RefineryError } from '../src/errors.ts';
import { callJson } from '../src/http.ts';
import { startServer, type Reply } from './http-server.ts';

test('requestFetch sends method, headers and body, and answers as fetch does', async () => {
  const server = await startServer((req) => ({ status: 201, json: { method: req.method, type: req.headers['content-type'], body: req.body.toString() }, headers: { 'x-request-id': 'r-1' } }));
  try {
    const response = await requestFetch(`${server.url}/things?x=1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
    assert.equal(response.status, 201);
    assert.equal(response.ok, true);
    assert.equal(response.statusText, 'Created');
    assert.equal(response.headers.get('x-request-id'), 'r-1');
    assert.deepEqual(await response.json(), { method: 'POST', type: 'application/json', body: '{"a":1}' });
    assert.equal(server.received[0].url.search, '?x=1');
  } finally {
    await server.close();
  }
});

test('requestFetch streams an answer in its chunks and a body from an async iterable', async () => {
  const server = await startServer((req) => ({ status: 200, body: ['one\n', 'two\n', req.body.toString()], delayMs: 20 }));
  try {
    async function* upload() {
      yield new TextEncoder().encode('up');
      yield new TextEncoder().encode('loaded\n');
    }
    const response = await requestFetch(server.url, { method: 'PUT', body: upload() as unknown as BodyInit, duplex: 'half' } as RequestInit);
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) chunks.push(decoder.decode(chunk));
    assert.equal(chunks.join(''), 'one\ntwo\nuploaded\n');
    assert.ok(chunks.length >= 2, 'the answer arrives as it is written, not at once');
  } finally {
    await server.close();
  }
});

test('requestFetch answers 204 with no body, keeps an error status readable, and follows a redirect', async () => {
  const server = await startServer((req) => {
    if (req.url.pathname === '/empty') return { status: 204 };
    if (req.url.pathname === '/moved') return { status: 302, headers: { location: '/here' } };
    if (req.url.pathname === '/here') return { status: 200, body: 'arrived' };
    return { status: 409, json: { error: { code: 'lease_expired', message: 'gone' } } };
  });
  try {
    const empty = await requestFetch(`${server.url}/empty`);
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    const conflict = await requestFetch(`${server.url}/other`);
    assert.equal(conflict.ok, false);
    assert.deepEqual(await conflict.json(), { error: { code: 'lease_expired', message: 'gone' } });
    const moved = await requestFetch(`${server.url}/moved`);
    assert.equal(moved.status, 200);
    assert.equal(await moved.text(), 'arrived');
  } finally {
    await server.close();
  }
});

test('requestFetch rejects on abort, and a refused connection is a transient failure', async () => {
  const server = await startServer(() => new Promise((resolve) => setTimeout(() => resolve({ status: 200, body: 'late' }), 1_000)));
  try {
    await assert.rejects(requestFetch(server.url, { signal: AbortSignal.timeout(50) }), (err: Error) => err.name === 'TimeoutError');
  } finally {
    await server.close();
  }
  const refused = await requestFetch(server.url).then(
    () => null,
    (err: unknown) => err,
  );
  assert.ok(refused instanceof Error);
  assert.equal(isTransient(refused), true);
});

test('callJson gives the same answers through undici directly as through any other fetch: JSON, null for no body, RefineryError for an error', async () => {
  const server = await startServer((req): Reply => {
    if (req.url.pathname === '/empty') return { status: 204 };
    if (req.url.pathname === '/moved') return { status: 302, headers: { location: '/here' } };
    if (req.url.pathname === '/here') return { status: 200, json: { arrived: true } };
    if (req.url.pathname === '/echo') return { status: 201, json: { method: req.method, type: req.headers['content-type'], body: req.body.toString() } };
    return { status: 409, json: { error: { code: 'lease_expired', message: 'gone' } }, headers: { 'x-request-id': 'r-9' } };
  });
  try {
    const otherFetch: typeof fetch = (input, init) => requestFetch(input, init);
    for (const fetchImpl of [requestFetch, otherFetch]) {
      const echo = await callJson(fetchImpl, `${server.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      assert.deepEqual(echo, { method: 'POST', type: 'application/json', body: '{"a":1}' });
      assert.equal(await callJson(fetchImpl, `${server.url}/empty`, { method: 'POST', headers: {} }), null);
      assert.deepEqual(await callJson(fetchImpl, `${server.url}/moved`, { method: 'GET', headers: {} }), { arrived: true });
      await assert.rejects(callJson(fetchImpl, `${server.url}/other`, { method: 'GET', headers: {} }), (err: unknown) => {
        assert.ok(err instanceof RefineryError);
        assert.deepEqual([err.status, err.code, err.message, err.requestId], [409, 'lease_expired', 'gone', 'r-9']);
        return true;
      });
    }
  } finally {
    await server.close();
  }
});
