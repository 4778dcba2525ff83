import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { FileBlobStore } from '../src/blobs/fileStore.ts';

async function* lines(count: number, width: number): AsyncIterable<string> {
  for (let i = 0; i < count; i++) yield `${String(i).padStart(width, '0')}\n`;
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe('file blob store', () => {
  let root: string;
  let store: FileBlobStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'refinery-blobs-'));
    store = new FileBlobStore(root, () => 'http://127.0.0.1:1', 'key');
  });
  after(() => rm(root, { recursive: true, force: true }));

  // Up to 64 KB a blob is written and read in one piece; past it, streamed: both give back what was put.
  for (const [name, count, width] of [
    ['an empty blob', 0, 1],
    ['one short line', 1, 10],
    ['just under one write (64 KB)', 65_535 / 16, 15],
    ['just over one write', 65_537 / 17 + 1, 16],
    ['many writes (3 MB, line by line)', 100_000, 29],
  ] as const) {
    it(`gives back ${name} byte for byte, and leaves no partial file`, async () => {
      const key = `batches/${name.replace(/\W+/g, '-')}/items.jsonl`;
      let expected = '';
      for await (const line of lines(Math.floor(count), width)) expected += line;
      assert.equal(await store.put(key, lines(Math.floor(count), width)), Buffer.byteLength(expected));
      const body = await store.get(key);
      assert.ok(body);
      assert.equal(await text(body), expected);
      assert.deepEqual(await filesUnder(join(root, 'batches', name.replace(/\W+/g, '-'))), ['items.jsonl']);
    });
  }

  it('replaces a blob put again, and says null for one never put', async () => {
    await store.put('batches/again/results.jsonl', lines(3, 4));
    await store.put('batches/again/results.jsonl', lines(1, 8));
    assert.equal(await text((await store.get('batches/again/results.jsonl'))!), '00000000\n');
    assert.equal(await store.get('batches/never/results.jsonl'), null);
  });

  it('writes a blob put `soon` after the current turn of the event loop, and holds a read of it until then', async () => {
    const key = 'batches/soon/items.jsonl';
    const written = store.put(key, '{"a":1}\n', { soon: true });
    // Nothing on disk yet: the caller's answer goes out first.
    assert.equal(existsSync(join(root, key)), false);
    const read = await store.get(key);
    assert.ok(read, 'the read waited for the write instead of finding nothing');
    assert.equal(await text(read), '{"a":1}\n');
    assert.equal(await written, 8);
  });

  it('keeps the old blob and no partial file when the body fails midway', async () => {
    await store.put('batches/broken/report.jsonl', lines(2, 3));
    async function* failing() {
      yield 'x'.repeat(100_000);
      throw new Error('the upload was cut off');
    }
    await assert.rejects(store.put('batches/broken/report.jsonl', failing()), /cut off/);
    assert.equal(await text((await store.get('batches/broken/report.jsonl'))!), '000\n001\n');
    assert.deepEqual(await filesUnder(join(root, 'batches', 'broken')), ['report.jsonl']);
  });
});
