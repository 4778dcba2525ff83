import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writevSync } from 'node:fs';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Keyring, openStream, openWholeInPieces, sealPieces, sealWholeInPieces } from '../keys/index.ts';
import { inLargeWrites } from './largeWrites.ts';
import type { BlobStore } from './store.ts';

/**
 * Blobs up to this size (a batch's items, results and report) are written and read whole, with
 * synchronous calls (docs/internals/0033-blob-files-whole-up-to-a-megabyte.md); larger ones stream.
 */
const wholeBytes = 1024 * 1024;

/** Files unlinked at once by `deleteMany`. */
const unlinksAtOnce = 32;

const tempPathOf = (target: string) => `${target}.${randomBytes(6).toString('hex')}.part`;

/** Writes `pieces` one after the other to a new file at `path`. */
function writeFileOfPieces(path: string, pieces: Buffer[]): void {
  const fd = openSync(path, 'w');
  try {
    let left = pieces;
    while (left.length > 0) {
      let written = writevSync(fd, left);
      const rest: Buffer[] = [];
      for (const piece of left) {
        if (written >= piece.length) written -= piece.length;
        else {
          rest.push(piece.subarray(written));
          written = 0;
        }
      }
      left = rest;
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes a blob of one write (its file's pieces) under a temporary name, then renames it: it appears whole or not at all. */
function writeWhole(target: string, pieces: Buffer[]): void {
  const temp = tempPathOf(target);
  try {
    try {
      writeFileOfPieces(temp, pieces);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dirname(target), { recursive: true });
      writeFileOfPieces(temp, pieces);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * The embedded blob store: files under `root`, served by Refinery itself at
 * `/v1/blobs/<key>?method=&expires=&signature=` (HMAC-SHA256 with a key kept in the database).
 * Every blob is encrypted on its way to disk and decrypted on its way out (keys/blobCipher.ts), so
 * what robots upload and download through signed URLs is plain to them and sealed on disk.
 */
export class FileBlobStore implements BlobStore {
  readonly writesSoon = true;
  /** The blobs put `soon` and not written yet: a `get` of one waits for its write. */
  readonly #writing = new Map<string, Promise<unknown>>();

  constructor(
    private readonly root: string,
    private readonly publicUrl: () => string,
    private readonly signingKey: string,
    private readonly keyring: Keyring,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  get description(): string {
    return `files in ${this.root}`;
  }

  path(key: string): string {
    const full = resolve(this.root, key);
    if (!full.startsWith(resolve(this.root) + sep)) throw new Error(`blob key escapes the store: ${key}`);
    return full;
  }

  // A blob up to wholeBytes (a batch's items, results and report) is written and read with
  // synchronous calls: each asynchronous file call is a hand-off to libuv's thread pool, and with
  // five of them per file (mkdir, open, write, close, rename) the hand-offs cost more than the
  // write (docs/internals/0006-blob-files-on-the-dispatch-path.md). Larger blobs stream.
  async put(key: string, body: string | Readable | AsyncIterable<string | Uint8Array>, options: { soon?: boolean } = {}): Promise<number> {
    const target = this.path(key);
    if (typeof body === 'string') return options.soon ? this.#writeSoon(key, target, body) : this.#writeWhole(target, Buffer.from(body));
    const writes = inLargeWrites(body)[Symbol.asyncIterator]();
    const held: Buffer[] = [];
    let heldBytes = 0;
    let next = await writes.next();
    while (!next.done && heldBytes + next.value.length <= wholeBytes) {
      held.push(next.value);
      heldBytes += next.value.length;
      next = await writes.next();
    }
    if (next.done) return this.#writeWhole(target, held.length === 1 ? held[0] : Buffer.concat(held, heldBytes));
    held.push(next.value);
    const temp = tempPathOf(target);
    await mkdir(dirname(target), { recursive: true });
    const out = createWriteStream(temp);
    let bytes = 0;
    try {
      await pipeline(
        sealPieces(
          this.keyring,
          (async function* () {
            for (const piece of held) {
              bytes += piece.length;
              yield piece;
            }
            for (let next = await writes.next(); !next.done; next = await writes.next()) {
              bytes += next.value.length;
              yield next.value;
            }
          })(),
        ),
        out,
      );
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return bytes;
  }

  /** Returns the bytes of the blob (`data`'s), not of the file. */
  #writeWhole(target: string, data: Buffer): number {
    writeWhole(target, sealWholeInPieces(this.keyring, data));
    return data.length;
  }

  #writeSoon(key: string, target: string, body: string): Promise<number> {
    const written = new Promise<number>((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(this.#writeWhole(target, Buffer.from(body)));
        } catch (err) {
          reject(err);
        }
      }),
    );
    const forget = () => {
      if (this.#writing.get(key) === done) this.#writing.delete(key);
    };
    const done: Promise<unknown> = written.then(forget, forget);
    this.#writing.set(key, done);
    return written;
  }

  async exists(key: string): Promise<boolean> {
    const writing = this.#writing.get(key);
    if (writing) await writing;
    return existsSync(this.path(key));
  }

  async get(key: string): Promise<Readable | null> {
    const writing = this.#writing.get(key);
    if (writing) await writing;
    let fd: number;
    try {
      fd = openSync(this.path(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const size = fstatSync(fd).size;
      if (size > wholeBytes) {
        const opened = openStream(this.keyring);
        // A failure reaches the reader: pipeline destroys `opened` with it.
        pipeline(createReadStream('', { fd }), opened).catch(() => {});
        return opened;
      }
      const data = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const n = readSync(fd, data, read, size - read, read);
        if (n === 0) break;
        read += n;
      }
      closeSync(fd);
      return Readable.from(openWholeInPieces(this.keyring, data.subarray(0, read)).filter((piece) => piece.length > 0));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    const folders = new Set<string>();
    for (let i = 0; i < keys.length; i += unlinksAtOnce) {
      await Promise.all(
        keys.slice(i, i + unlinksAtOnce).map((key) => {
          const path = this.path(key);
          folders.add(dirname(path));
          return rm(path, { force: true });
        }),
      );
    }
    // A folder left empty goes too: otherwise every minute of batches would leave one for good.
    for (const folder of folders) {
      await rmdir(folder).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err;
      });
    }
  }

  private signature(key: string, method: string, expires: number): string {
    return createHmac('sha256', this.signingKey).update(`${method}\n${key}\n${expires}`).digest('base64url');
  }

  async signedUrl(key: string, method: 'GET' | 'PUT', expiresInSeconds: number): Promise<string> {
    const expires = this.nowSeconds() + expiresInSeconds;
    const query = new URLSearchParams({ method, expires: String(expires), signature: this.signature(key, method, expires) });
    return `${this.publicUrl()}/v1/blobs/${key.split('/').map(encodeURIComponent).join('/')}?${query}`;
  }

  /** Null when the URL's signature holds for this method and has not expired, else why not. */
  checkSignature(key: string, method: string, expires: string | undefined, signature: string | undefined): string | null {
    if (!expires || !signature) return 'the URL is not signed';
    const expiresAt = Number(expires);
    if (!Number.isInteger(expiresAt)) return 'the URL is not signed';
    const expected = Buffer.from(this.signature(key, method, expiresAt));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return `the signature does not allow ${method} of this blob`;
    if (expiresAt < this.nowSeconds()) return 'the signed URL has expired';
    return null;
  }
}

export function fileBlobRoot(dataDir: string): string {
  return join(dataDir, 'blobs');
}
