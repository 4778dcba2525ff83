import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerSentEvents } from '../src/index.ts';

/** A body made of these chunks, as fetch would hand it over. */
function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  return new ReadableStream({
    pull(controller) {
      const next = bytes.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

test('parseServerSentEvents: fields up to a blank line make one event, whatever the chunks and line endings', async () => {
  const events = [];
  for await (const e of parseServerSentEvents(
    body('retry: 2000\n\n: keep-alive\n\nid: 7\nevent: request.pro', 'gress\ndata: {"a":1}\r', '\n\r\nid: 8\ndata:first\ndata: second\n\nevent: empty\n\nid: 9\nevent: request.finished\ndata: {}\n\n'),
  )) {
    events.push(e);
  }
  assert.deepEqual(events, [
    { id: '7', event: 'request.progress', data: '{"a":1}' },
    { id: '8', event: 'message', data: 'first\nsecond' },
    { id: '9', event: 'request.finished', data: '{}' },
  ]);
});
