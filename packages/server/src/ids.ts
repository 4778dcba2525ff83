import { getRandomValues, randomBytes } from 'node:crypto';
import { V7Generator } from 'uuidv7';

/**
 * Random bits for ids, fetched 4 KB at a time: uuidv7's own buffer holds 32 bytes, so every few
 * ids cost a `getrandom` system call (`randomFillSync`, 0.78 s of the benchmark process's CPU in
 * an end-to-end run: importing the records, then their enhancements).
 */
class BufferedRandom {
  private readonly buffer = new Uint32Array(1024);
  private cursor = this.buffer.length;

  nextUint32(): number {
    if (this.cursor >= this.buffer.length) {
      getRandomValues(this.buffer);
      this.cursor = 0;
    }
    return this.buffer[this.cursor++]!;
  }
}

const ids = new V7Generator(new BufferedRandom());

/** A new UUIDv7: time-ordered, so rows inserted together sit together in their indexes. */
export const newId = (): string => ids.generate().toString();
/** A random secret or token, `prefix_` + 32 random bytes in base64url. */
export const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;
