import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeJsonLines, JsonLinesError, mapConcurrent, parseJsonLines } from '../src/index.ts';
import { startServer } from './http-server.ts';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of source) out.push(value);
  return out;
}

async function* chunksOf(...chunks: Array<Uint8Array | string>) {
  yield* chunks;
}

test('parseJsonLines joins lines split across chunks, even inside a UTF-8 character', async () => {
  const bytes = new TextEncoder().encode('{"a":"é"}\r\n\n{"b":2}\n{"c":[3]}');
  const splitInsideE = bytes.indexOf(0xc3) + 1;
  const values = await collect(parseJsonLines(chunksOf(bytes.slice(0, splitInsideE), bytes.slice(splitInsideE, 14), bytes.slice(14))));
  assert.deepEqual(values, [{ a: 'é' }, { b: 2 }, { c: [3] }]);
});

test('parseJsonLines names the line that is not JSON', async () => {
  await assert.rejects(collect(parseJsonLines(chunksOf('{"ok":1}\n\n{nope\n'))), (err: unknown) => {
    assert.ok(err instanceof JsonLinesError);
    assert.equal(err.line, 3);
    return true;
  });
});

test('encodeJsonLines gathers lines into chunks of about the size asked', async () => {
  const values = Array.from({ length: 1000 }, (_, i) => ({ i, text: 'x'.repeat(50) }));
  const chunks = await collect(encodeJsonLines(values, 4096));
  assert.ok(chunks.length > 10 && chunks.length < 30, `${chunks.length} chunks`);
  assert.ok(chunks.slice(0, -1).every((c) => c.length >= 4096 && c.length < 4096 + 100));
  assert.deepEqual(await collect(parseJsonLines(chunksOf(...chunks))), values);
});

test('parseJsonLines reads a JSONL response over HTTP as it streams', async () => {
  const lines = Array.from({ length: 2000 }, (_, i) => `${JSON.stringify({ i })}\n`);
  const oddChunks: string[] = [];
  const text = lines.join('');
  for (let at = 0; at < text.length; at += 777) oddChunks.push(text.slice(at, at + 777));
  const server = await startServer(() => ({ status: 200, body: oddChunks }));
  try {
    const response = await fetch(`${server.url}/items`);
    let count = 0;
    for await (const value of parseJsonLines<{ i: number }>(response.body!)) assert.equal(value.i, count++);
    assert.equal(count, 2000);
  } finally {
    await server.close();
  }
});

test('mapConcurrent runs at most `limit` calls at once and yields every result', async () => {
  let running = 0;
  let most = 0;
  async function* numbers() {
    for (let i = 0; i < 20; i++) yield i;
  }
  const results = await collect(
    mapConcurrent(numbers(), 4, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, (n % 3) * 5));
      running--;
      return n * 2;
    }),
  );
  assert.equal(most, 4);
  assert.deepEqual(results.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i * 2));
});

test('mapConcurrent rethrows a failed call after the others settle', async () => {
  let settled = 0;
  async function* numbers() {
    yield* [1, 2, 3];
  }
  await assert.rejects(
    collect(
      mapConcurrent(numbers(), 3, async (n) => {
        await new Promise((r) => setTimeout(r, n * 10));
        settled++;
        if (n === 1) throw new Error('one failed');
        return n;
      }),
    ),
    /one failed/,
  );
  assert.equal(settled, 3);
});
