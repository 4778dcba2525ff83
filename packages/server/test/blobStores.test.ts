import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { FileBlobStore } from '../src/blobs/fileStore.ts';
import { blobRoutes } from '../src/blobs/routes.ts';
import type { BlobStore } from '../src/blobs/store.ts';
import { installErrorHandler } from '../src/http/errorHandler.ts';
import { Keyring } from '../src/keys/keyring.ts';
import { tempDir } from './support/backends.ts';
import { startLocalS3 } from './support/s3.ts';

// One conformance suite for every blob store: the file system (served by Refinery's own
// /v1/blobs route) and S3 (a local S3-speaking server that checks signatures and expiry).

interface Subject {
  store: BlobStore;
  /** The same store, signing URLs as of two hours ago: an hour's URL from it has expired. */
  signingInThePast: BlobStore;
  /** The file store's directory. */
  root?: string;
  close(): Promise<void>;
}

const testKeyring = () => new Keyring(new Map([['test', randomBytes(32)]]), 'test');
const twoHoursAgo = () => Date.now() - 2 * 3600_000;

const subjects: Array<{ name: string; open(): Promise<Subject> }> = [
  {
    name: 'file blob store',
    async open() {
      const dir = await tempDir('refinery-blobs-');
      const app = Fastify();
      installErrorHandler(app);
      let base = '';
      const keys = testKeyring();
      const store = new FileBlobStore(dir.path, () => base, 'signing-key', keys);
      await app.register(blobRoutes, { store });
      base = await app.listen({ port: 0, host: '127.0.0.1' });
      const signingInThePast = new FileBlobStore(dir.path, () => base, 'signing-key', keys, () => Math.floor(twoHoursAgo() / 1000));
      return { store, signingInThePast, root: dir.path, close: async () => (await app.close(), await dir.remove()) };
    },
  },
  {
    name: 'S3 blob store',
    async open() {
      const s3 = await startLocalS3();
      const store = s3.store('conformance');
      const signingInThePast = s3.store('conformance', { now: () => new Date(twoHoursAgo()) });
      return {
        store,
        signingInThePast,
        async close() {
          store.close?.();
          signingInThePast.close?.();
          await s3.stop();
        },
      };
    },
  },
];

async function* lines(count: number, width: number): AsyncIterable<string> {
  for (let i = 0; i < count; i++) yield `${String(i).padStart(width, '0')}\n`;
}

async function* chunks(count: number, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, `${i % 10}`);
}

/** Length and SHA-256 of a stream, read as it comes. */
async function digest(source: AsyncIterable<string | Uint8Array> | Iterable<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buf);
    bytes += buf.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

/** The URL with one character of its signature changed. */
function tampered(url: string): string {
  const u = new URL(url);
  const name = [...u.searchParams.keys()].find((k) => /signature/i.test(k))!;
  const signature = u.searchParams.get(name)!;
  u.searchParams.set(name, (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1));
  return u.toString();
}

const read = async (store: BlobStore, key: string) => {
  const body = await store.get(key);
  return body ? text(body) : null;
};

for (const { name, open } of subjects) {
  describe(name, () => {
    let s: Subject;
    before(async () => {
      s = await open();
    });
    after(() => s?.close());

    // Up to 64 KB a file blob is written and read in one piece; past it, streamed; an S3 blob past
    // 5 MB goes up in parts. Every size comes back byte for byte.
    for (const [what, body] of [
      ['an empty blob', () => lines(0, 1)],
      ['one short line', () => lines(1, 10)],
      ['just under one write (64 KB)', () => lines(65_535 / 16, 15)],
      ['just over one write', () => lines(65_537 / 17 + 1, 16)],
      ['many writes (3 MB, line by line)', () => lines(100_000, 29)],
      ['a large file (16 MB, streamed in 64 KB chunks)', () => chunks(256, 64 * 1024)],
    ] as const) {
      it(`gives back ${what} byte for byte`, async () => {
        const key = `batches/${what.replace(/\W+/g, '-')}/items.jsonl`;
        const expected = await digest(body());
        assert.equal(await s.store.put(key, body()), expected.bytes);
        const stream = await s.store.get(key);
        assert.ok(stream);
        assert.deepEqual(await digest(stream), expected);
      });
    }

    it('replaces a blob put again, and says null for one never put', async () => {
      await s.store.put('batches/again/results.jsonl', lines(3, 4));
      await s.store.put('batches/again/results.jsonl', lines(1, 8));
      assert.equal(await read(s.store, 'batches/again/results.jsonl'), '00000000\n');
      assert.equal(await s.store.get('batches/never/results.jsonl'), null);
    });

    it('lets a signed GET URL read the blob and a signed PUT URL write it', async () => {
      await s.store.put('batches/signed/items.jsonl', '{"record":1}\n');
      const got = await fetch(await s.store.signedUrl('batches/signed/items.jsonl', 'GET', 3600));
      assert.equal(got.status, 200);
      assert.equal(await got.text(), '{"record":1}\n');

      const putUrl = await s.store.signedUrl('batches/signed/results.jsonl', 'PUT', 3600);
      const put = await fetch(putUrl, { method: 'PUT', body: '{"result":1}\n', headers: { 'content-type': 'application/x-ndjson' } });
      assert.ok(put.ok, `PUT through the signed URL: ${put.status} ${await put.text()}`);
      assert.equal(await read(s.store, 'batches/signed/results.jsonl'), '{"result":1}\n');
    });

    it('streams a large file through its signed URLs, up and down', async () => {
      const large = Buffer.alloc(12 * 1024 * 1024, 'r');
      const expected = await digest([large]);
      const putUrl = await s.store.signedUrl('batches/large/results.jsonl', 'PUT', 3600);
      const put = await fetch(putUrl, { method: 'PUT', body: large });
      assert.ok(put.ok, `PUT through the signed URL: ${put.status} ${await put.text()}`);
      const got = await fetch(await s.store.signedUrl('batches/large/results.jsonl', 'GET', 3600));
      assert.equal(got.status, 200);
      assert.deepEqual(await digest(Readable.fromWeb(got.body! as never)), expected);
    });

    it('refuses an expired URL, to read and to write, and the write changes nothing', async () => {
      await s.store.put('batches/expired/results.jsonl', 'kept\n');
      const get = await fetch(await s.signingInThePast.signedUrl('batches/expired/results.jsonl', 'GET', 3600));
      assert.equal(get.status, 403, await get.text());
      const put = await fetch(await s.signingInThePast.signedUrl('batches/expired/results.jsonl', 'PUT', 3600), { method: 'PUT', body: 'overwritten\n' });
      assert.equal(put.status, 403, await put.text());
      assert.equal(await read(s.store, 'batches/expired/results.jsonl'), 'kept\n');
    });

    it('refuses a tampered URL: a changed signature, a GET URL used to write, a URL moved to another key', async () => {
      await s.store.put('batches/tampered/items.jsonl', 'items\n');
      await s.store.put('batches/tampered/secret.jsonl', 'secret\n');
      const getUrl = await s.store.signedUrl('batches/tampered/items.jsonl', 'GET', 3600);
      const putUrl = await s.store.signedUrl('batches/tampered/results.jsonl', 'PUT', 3600);

      const changedGet = await fetch(tampered(getUrl));
      assert.equal(changedGet.status, 403, await changedGet.text());
      const changedPut = await fetch(tampered(putUrl), { method: 'PUT', body: 'forged\n' });
      assert.equal(changedPut.status, 403, await changedPut.text());
      const getToWrite = await fetch(getUrl, { method: 'PUT', body: 'overwritten\n' });
      assert.equal(getToWrite.status, 403, await getToWrite.text());
      const moved = await fetch(getUrl.replace('items.jsonl', 'secret.jsonl'));
      assert.equal(moved.status, 403, await moved.text());

      assert.equal(await read(s.store, 'batches/tampered/items.jsonl'), 'items\n');
      assert.equal(await s.store.get('batches/tampered/results.jsonl'), null);
    });

    it('deletes blobs in one call: gone from the store and from their signed URLs; the blob beside them stays; deleting again is harmless', async () => {
      await s.store.put('batches/deleted/items.jsonl', lines(10, 4));
      await s.store.put('batches/deleted/results.jsonl', 'results\n');
      await s.store.put('batches/deleted/report.jsonl', 'report\n');
      const url = await s.store.signedUrl('batches/deleted/items.jsonl', 'GET', 3600);
      await s.store.deleteMany(['batches/deleted/items.jsonl', 'batches/deleted/results.jsonl', 'batches/never/items.jsonl']);
      assert.equal(await s.store.get('batches/deleted/items.jsonl'), null);
      assert.equal(await s.store.get('batches/deleted/results.jsonl'), null);
      const got = await fetch(url);
      assert.equal(got.status, 404);
      if (s.root) assert.equal(((await got.json()) as { error: { code: string } }).error.code, 'not_found');
      else await got.body?.cancel();
      await s.store.deleteMany(['batches/deleted/items.jsonl', 'batches/deleted/results.jsonl']);
      await s.store.deleteMany([]);
      assert.equal(await read(s.store, 'batches/deleted/report.jsonl'), 'report\n');
    });

    it('deletes more blobs at once than one S3 call takes (1,000), most of them never put', async () => {
      const keys = Array.from({ length: 2500 }, (_, i) => `batches/many/${i}.results.jsonl`);
      const present = [0, 999, 1000, 1999, 2499];
      for (const i of present) await s.store.put(keys[i], `${i}\n`);
      await s.store.put('batches/many/kept.jsonl', 'kept\n');
      await s.store.deleteMany(keys);
      for (const i of present) assert.equal(await s.store.get(keys[i]), null, keys[i]);
      assert.equal(await read(s.store, 'batches/many/kept.jsonl'), 'kept\n');
    });

    it('keeps the old blob when a new body fails midway', async () => {
      await s.store.put('batches/broken/report.jsonl', lines(2, 3));
      async function* failing() {
        yield 'x'.repeat(100_000);
        throw new Error('the upload was cut off');
      }
      await assert.rejects(s.store.put('batches/broken/report.jsonl', failing()), /cut off/);
      assert.equal(await read(s.store, 'batches/broken/report.jsonl'), '000\n001\n');
      if (s.root) assert.deepEqual(await filesUnder(join(s.root, 'batches', 'broken')), ['report.jsonl'], 'no partial file is left');
    });

    if (name === 'file blob store') {
      it('leaves no partial file behind any blob it wrote', async () => {
        assert.deepEqual((await filesUnder(s.root!)).filter((f) => f.endsWith('.part')), []);
      });

      it('removes a folder that deleting its blobs left empty, and keeps one that still holds a blob', async () => {
        for (const key of ['batches/emptied/a.jsonl', 'batches/emptied/b.jsonl', 'batches/halved/c.jsonl', 'batches/halved/d.jsonl']) await s.store.put(key, 'x\n');
        await s.store.deleteMany(['batches/emptied/a.jsonl', 'batches/emptied/b.jsonl', 'batches/halved/c.jsonl']);
        assert.equal(existsSync(join(s.root!, 'batches', 'emptied')), false);
        assert.deepEqual(await filesUnder(join(s.root!, 'batches', 'halved')), ['d.jsonl']);
      });

      it('writes a blob put `soon` after the current turn of the event loop, and holds a read of it until then', async () => {
        const key = 'batches/soon/items.jsonl';
        const written = s.store.put(key, '{"a":1}\n', { soon: true });
        // Nothing on disk yet: the caller's answer goes out first.
        assert.equal(existsSync(join(s.root!, key)), false);
        assert.equal(await read(s.store, key), '{"a":1}\n', 'the read waited for the write instead of finding nothing');
        assert.equal(await written, 8);
      });
    } else {
      it('gives PUT URLs that take any body (no checksum of an empty body in them, which AWS would hold the upload to)', async () => {
        const url = new URL(await s.store.signedUrl('batches/any/results.jsonl', 'PUT', 3600));
        assert.deepEqual([...url.searchParams.keys()].filter((k) => /checksum/i.test(k)), []);
      });
    }
  });
}
