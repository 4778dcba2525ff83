import { getRandomValues, randomBytes } from 'node:crypto';
import { V7Generator } from 'uuidv7';

/**
 * Random bits for ids and lease tokens, fetched 4 KB at a time: uuidv7's own buffer holds 32
 * bytes, so every few ids cost a `getrandom` system call (it showed in CPU profiles of imports,
 * which make an id per record and per enhancement), and `randomBytes` for each lease token made one
 * on every dispatch.
 */
class BufferedRandom {
  private readonly buffer = new Uint32Array(1024);
  private cursor = this.buffer.length;

  nextUint32(): number {
    return this.buffer[this.take(1)]!;
  }

  /** `words` × 4 random bytes, copied out. */
  nextBytes(words: number): Buffer {
    const start = this.take(words) * 4;
    return Buffer.from(this.buffer.buffer.slice(start, start + words * 4));
  }

  /** Where `words` unused random words start, the buffer refilled first when too few are left. */
  private take(words: number): number {
    if (this.cursor + words > this.buffer.length) {
      getRandomValues(this.buffer);
      this.cursor = 0;
    }
    const start = this.cursor;
    this.cursor += words;
    return start;
  }
}

const random = new BufferedRandom();
const ids = new V7Generator(random);

/** A new UUIDv7: time-ordered, so rows inserted together sit together in their indexes. */
export const newId = (): string => ids.generate().toString();
/** A lease token: 24 random bytes in base64url. */
export const newLeaseToken = (): string => random.nextBytes(6).toString('base64url');
/** A random secret or token, `prefix_` + 32 random bytes in base64url. */
export const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;
