import { randomBytes } from 'node:crypto';
import { ConfigError } from '../config.ts';
import type { Db, Queryable } from '../db/index.ts';
import { Keyring, unwrapDataKey, wrapDataKey } from './keyring.ts';
import type { MasterKey } from './masterKey.ts';
import { insertDataKey } from './queries/insertDataKey.ts';
import { listDataKeys } from './queries/listDataKeys.ts';

export const newDataKeyId = () => randomBytes(8).toString('hex');

/** Makes a data key, wrapped by `master`, and stores it. */
export async function addDataKey(db: Queryable, master: MasterKey, now: Date): Promise<string> {
  const id = newDataKeyId();
  await insertDataKey(db, { id, masterKeyId: master.id, wrapped: wrapDataKey(master, id, randomBytes(32)), now });
  return id;
}

/**
 * The database's data keys unwrapped by `master` (the first process to start makes the first
 * one). A data key wrapped by another master key, and not by this one (a rotation to it has not
 * begun), means this is the wrong master key: a ConfigError that says so.
 */
export async function loadKeyring(db: Db, master: MasterKey, now: Date, source: string): Promise<Keyring> {
  const rows = await db.transaction(async (tx) => {
    // One process makes the first data key; the others wait here and read it.
    await tx.query('lock table data_keys in share row exclusive mode');
    const found = await listDataKeys(tx);
    if (found.length > 0) return found;
    await addDataKey(tx, master, now);
    return listDataKeys(tx);
  });
  const keys = new Map<string, Buffer>();
  for (const row of rows) {
    const wrapped = row.master_key_id === master.id ? row.wrapped : row.next_master_key_id === master.id ? row.next_wrapped : null;
    if (!wrapped && rows.some((r) => r.next_master_key_id === master.id)) {
      throw new ConfigError(
        `${source} is master key ${master.id}, to which a rotation has begun but not finished: finish it (refinery keys rotate-master), or start on the current master key ${row.master_key_id} meanwhile (docs/encryption.md)`,
      );
    }
    if (!wrapped) {
      throw new ConfigError(
        `${source} is not the master key of this database: its data keys are wrapped by master key ${row.master_key_id}${row.next_master_key_id ? ` (being rotated to ${row.next_master_key_id})` : ''}, and this key is ${master.id} (docs/encryption.md)`,
      );
    }
    keys.set(row.id, unwrapDataKey(master, row.id, Buffer.from(wrapped)));
  }
  return new Keyring(keys, rows[rows.length - 1].id);
}
