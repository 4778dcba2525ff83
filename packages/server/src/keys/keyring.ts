import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { MasterKey } from './masterKey.ts';

const algorithm = 'aes-256-gcm';
const ivBytes = 12;
const tagBytes = 16;

/** Random bytes drawn a pool at a time: a call to the system's generator per value sealed cost more than the sealing. */
let pool = Buffer.alloc(0);
let taken = 0;
export function randomPart(n: number): Buffer {
  if (taken + n > pool.length) {
    pool = randomBytes(4096);
    taken = 0;
  }
  taken += n;
  return pool.subarray(taken - n, taken);
}

/** Encrypts `plain` with AES-256-GCM under `key`: iv ‖ ciphertext ‖ tag (a random iv each time). */
export function encrypt(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomPart(ivBytes);
  const cipher = createCipheriv(algorithm, key, iv).setAAD(aad);
  const body = cipher.update(plain);
  const last = cipher.final();
  return Buffer.concat([iv, body, last, cipher.getAuthTag()]);
}

/** The inverse of `encrypt`; throws when the data or its associated data were changed, or the key is another. */
export function decrypt(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < ivBytes + tagBytes) throw new Error('the ciphertext is too short');
  const decipher = createDecipheriv(algorithm, key, sealed.subarray(0, ivBytes)).setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  return Buffer.concat([decipher.update(sealed.subarray(ivBytes, sealed.length - tagBytes)), decipher.final()]);
}

/** A data key wrapped by a master key: bound to both ids, so a wrap cannot be passed off as another key's. */
const wrapAad = (dataKeyId: string, masterKeyId: string) => Buffer.from(`refinery data key ${dataKeyId} under ${masterKeyId}`);
export const wrapDataKey = (master: MasterKey, dataKeyId: string, key: Buffer) => encrypt(master.key, key, wrapAad(dataKeyId, master.id));
export const unwrapDataKey = (master: MasterKey, dataKeyId: string, wrapped: Buffer) => decrypt(master.key, wrapped, wrapAad(dataKeyId, master.id));

/** Sealed text: `rfe1.<data key id>.<base64url of iv ‖ ciphertext ‖ tag>`. */
const sealedPrefix = 'rfe1.';

/**
 * The data keys this process holds, unwrapped, by id; it seals with the newest. Sealed text
 * names its data key, so whatever any key sealed stays readable while that key is kept.
 */
export class Keyring {
  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    readonly currentId: string,
  ) {}

  key(id: string): Buffer {
    const key = this.keys.get(id);
    if (!key) throw new Error(`data key ${id} is not one of this database's`);
    return key;
  }

  get current(): Buffer {
    return this.key(this.currentId);
  }

  /** `text` sealed, bound to `context` (what it is: the same context is needed to open it). */
  seal(text: string, context: string): string {
    return `${sealedPrefix}${this.currentId}.${encrypt(this.current, Buffer.from(text), Buffer.from(context)).toString('base64url')}`;
  }

  open(sealed: string, context: string): string {
    if (!isSealed(sealed)) throw new Error('the value is not sealed');
    const dot = sealed.indexOf('.', sealedPrefix.length);
    const id = sealed.slice(sealedPrefix.length, dot);
    return decrypt(this.key(id), Buffer.from(sealed.slice(dot + 1), 'base64url'), Buffer.from(context)).toString();
  }
}

export const isSealed = (text: string) => text.startsWith(sealedPrefix);
