import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { randomPart, type Keyring } from './keyring.ts';

/**
 * An encrypted blob: a header (`RFB1`, the data key id's length and id, an 8-byte nonce prefix),
 * then frames of [4-byte length, its top bit set on the last frame][AES-256-GCM ciphertext]
 * [16-byte tag], one per write (about 64 KB). Frame n's nonce is the prefix and n; its associated
 * data is the header and the last-frame bit, so frames cannot be reordered, dropped or cut off
 * without the read failing.
 * Each frame is checked before any of it is given out. A file without the header is a blob
 * written before encryption, read as it is.
 */
const magic = Buffer.from('RFB1');
const tagBytes = 16;
/** No frame Refinery writes is larger; a longer length is a damaged file. */
const maxFrameBytes = 64 * 1024 * 1024;
const lastBit = 0x8000_0000;

const nonceOf = (prefix: Buffer, n: number) => {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(n, 8);
  return nonce;
};
const aadOf = (header: Buffer, last: boolean) => Buffer.concat([header, Buffer.from([last ? 1 : 0])]);

class Sealer {
  readonly header: Buffer;
  private readonly prefix = Buffer.from(randomPart(8));
  private n = 0;
  constructor(private readonly keyring: Keyring) {
    const id = Buffer.from(keyring.currentId);
    this.header = Buffer.concat([magic, Buffer.from([id.length]), id, this.prefix]);
  }
  /** The frame of `plain`, as the pieces to write one after the other (the header first when `withHeader`). */
  framePieces(plain: Buffer, last: boolean, withHeader = false): Buffer[] {
    const cipher = createCipheriv('aes-256-gcm', this.keyring.current, nonceOf(this.prefix, this.n++)).setAAD(aadOf(this.header, last));
    const length = Buffer.alloc(4);
    length.writeUInt32BE((plain.length | (last ? lastBit : 0)) >>> 0);
    const body = cipher.update(plain);
    cipher.final();
    return withHeader ? [this.header, length, body, cipher.getAuthTag()] : [length, body, cipher.getAuthTag()];
  }
  frame(plain: Buffer, last: boolean, withHeader = false): Buffer {
    return Buffer.concat(this.framePieces(plain, last, withHeader));
  }
}

/** A blob of one piece, sealed, as the pieces of the file to write one after the other (no copy into one buffer). */
export function sealWholeInPieces(keyring: Keyring, plain: Buffer): Buffer[] {
  return new Sealer(keyring).framePieces(plain, true, true);
}

/** A blob of one piece, sealed. */
export function sealWhole(keyring: Keyring, plain: Buffer): Buffer {
  return Buffer.concat(sealWholeInPieces(keyring, plain));
}

/** The pieces of a blob, sealed a frame each (one piece is held back, to know which is last). */
export async function* sealPieces(keyring: Keyring, pieces: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const sealer = new Sealer(keyring);
  let held: Buffer | null = null;
  let first = true;
  for await (const piece of pieces) {
    if (held) {
      yield sealer.frame(held, false, first);
      first = false;
    }
    held = piece;
  }
  yield sealer.frame(held ?? Buffer.alloc(0), true, first);
}

/** Reads a sealed blob's frames as they come; a blob without the header goes through as it is. */
class Opener {
  private buffered: Buffer = Buffer.alloc(0);
  private header: Buffer | null = null;
  private prefix: Buffer | null = null;
  private key: Buffer | null = null;
  private plain = false;
  private n = 0;
  private ended = false;

  constructor(private readonly keyring: Keyring) {}

  /** What `chunk` completes, opened. */
  feed(chunk: Buffer, out: Buffer[]): void {
    if (this.plain) {
      out.push(chunk);
      return;
    }
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    if (!this.header) {
      if (this.buffered.length < magic.length + 1) return;
      if (!this.buffered.subarray(0, magic.length).equals(magic)) {
        this.plain = true;
        out.push(this.buffered);
        this.buffered = Buffer.alloc(0);
        return;
      }
      const idLength = this.buffered[magic.length];
      const headerBytes = magic.length + 1 + idLength + 8;
      if (this.buffered.length < headerBytes) return;
      this.header = Buffer.from(this.buffered.subarray(0, headerBytes));
      this.key = this.keyring.key(this.header.subarray(magic.length + 1, magic.length + 1 + idLength).toString());
      this.prefix = this.header.subarray(headerBytes - 8);
      this.buffered = this.buffered.subarray(headerBytes);
    }
    while (this.buffered.length >= 4) {
      if (this.ended) throw new Error('the encrypted blob goes on after its last frame');
      const word = this.buffered.readUInt32BE(0);
      const last = (word & lastBit) !== 0;
      const length = word & ~lastBit;
      if (length > maxFrameBytes) throw new Error('the encrypted blob is damaged');
      if (this.buffered.length < 4 + length + tagBytes) return;
      out.push(this.openFrame(this.buffered.subarray(4, 4 + length), this.buffered.subarray(4 + length, 4 + length + tagBytes), last));
      this.buffered = this.buffered.subarray(4 + length + tagBytes);
    }
  }

  private openFrame(body: Buffer, tag: Buffer, last: boolean): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.key!, nonceOf(this.prefix!, this.n++)).setAAD(aadOf(this.header!, last));
    decipher.setAuthTag(tag);
    const plain = decipher.update(body);
    try {
      decipher.final();
    } catch {
      throw new Error('the encrypted blob does not open with its data key: it was changed or damaged');
    }
    this.ended = last;
    return plain;
  }

  /** The end of the blob: what is left (a short blob without the header), or why it is incomplete. */
  end(out: Buffer[]): void {
    if (this.plain) return;
    if (!this.header) {
      if (this.buffered.length > 0) out.push(this.buffered);
      return;
    }
    if (!this.ended || this.buffered.length > 0) throw new Error('the encrypted blob is cut short');
  }
}

/** A stream of a blob's bytes as stored, opened. */
export function openStream(keyring: Keyring): Transform {
  const opener = new Opener(keyring);
  const run = (step: (out: Buffer[]) => void, self: Transform, done: TransformCallback) => {
    const out: Buffer[] = [];
    try {
      step(out);
    } catch (err) {
      return done(err as Error);
    }
    for (const b of out) self.push(b);
    done();
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      run((out) => opener.feed(chunk, out), this, done);
    },
    flush(done) {
      run((out) => opener.end(out), this, done);
    },
  });
}

/** A blob read whole, opened, as its pieces in order (a frame each; no copy into one buffer). */
export function openWholeInPieces(keyring: Keyring, stored: Buffer): Buffer[] {
  const opener = new Opener(keyring);
  const out: Buffer[] = [];
  opener.feed(stored, out);
  opener.end(out);
  return out;
}

/** A blob read whole, opened. */
export function openWhole(keyring: Keyring, stored: Buffer): Buffer {
  const out = openWholeInPieces(keyring, stored);
  return out.length === 1 ? out[0] : Buffer.concat(out);
}
