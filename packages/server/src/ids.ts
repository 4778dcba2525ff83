import { randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';

export const newId = (): string => uuidv7();
/** A random secret or token, `prefix_` + 32 random bytes in base64url. */
export const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;
