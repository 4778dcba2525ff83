import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config.ts';

/** A master key: 32 bytes, and its id (stored beside every data key it wraps). */
export interface MasterKey {
  id: string;
  key: Buffer;
}

/** The key's id: a hash of it, so a key is recognised without storing anything of it. */
export function masterKeyOf(key: Buffer): MasterKey {
  return { id: createHash('sha256').update('refinery master key id\0').update(key).digest('hex').slice(0, 16), key };
}

/** 32 bytes written as base64, base64url or 64 hex digits; `what` names the setting in the error. */
export function parseMasterKey(text: string, what: string): MasterKey {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t.replace(/=$/, ''), 'base64url') : null;
  if (!key || key.length !== 32) throw new ConfigError(`${what} must be 32 bytes in base64 (44 characters) or hex (64 digits); make one with: openssl rand -base64 32`);
  return masterKeyOf(key);
}

export async function readMasterKeyFile(file: string, what: string): Promise<MasterKey> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`${what} ${file} cannot be read: ${err.code === 'ENOENT' ? 'there is no such file' : err.message}`);
  });
  return parseMasterKey(text, `${what} ${file}`);
}

/** The embedded mode's key file in the data directory. */
export const embeddedKeyFile = (dataDir: string) => join(dataDir, 'master-key');

/** Writes a new random master key to `file` (mode 0600, whole or not at all), and returns it. */
export async function makeMasterKeyFile(file: string): Promise<MasterKey> {
  const key = randomBytes(32);
  const temp = `${file}.${randomBytes(4).toString('hex')}.part`;
  await writeFile(temp, key.toString('base64') + '\n', { mode: 0o600 });
  await rename(temp, file);
  return masterKeyOf(key);
}

export interface MasterKeySettings {
  masterKey: string | null;
  masterKeyFile: string | null;
  databaseUrl: string | null;
  dataDir: string;
}

/**
 * The master key of the configuration: REFINERY_MASTER_KEY, else REFINERY_MASTER_KEY_FILE, else
 * in embedded mode the data directory's `master-key` (made now when there is none: `made`).
 * On PostgreSQL one of the settings is required.
 */
export async function loadMasterKey(config: MasterKeySettings): Promise<{ master: MasterKey; made: string | null }> {
  if (config.masterKey) return { master: parseMasterKey(config.masterKey, 'REFINERY_MASTER_KEY'), made: null };
  if (config.masterKeyFile) return { master: await readMasterKeyFile(config.masterKeyFile, 'REFINERY_MASTER_KEY_FILE'), made: null };
  if (config.databaseUrl) {
    throw new ConfigError('no master key: set REFINERY_MASTER_KEY (32 bytes in base64; make one with: openssl rand -base64 32) or REFINERY_MASTER_KEY_FILE (docs/encryption.md)');
  }
  const file = embeddedKeyFile(config.dataDir);
  const kept = await readFile(file, 'utf8').then(
    (text) => text,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw new ConfigError(`the master key file ${file} cannot be read: ${err.message}`);
    },
  );
  if (kept !== null) return { master: parseMasterKey(kept, `the master key file ${file}`), made: null };
  return { master: await makeMasterKeyFile(file), made: file };
}
