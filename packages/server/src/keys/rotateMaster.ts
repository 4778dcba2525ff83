import type { Db } from '../db/index.ts';
import { ConfigError } from '../config.ts';
import { unwrapDataKey, wrapDataKey } from './keyring.ts';
import type { MasterKey } from './masterKey.ts';
import { countRotation, finishRotation, listKeysToRewrap, storeNextWraps } from './queries/rotation.ts';

/** Data keys wrapped per statement. */
const pageSize = 100;

/**
 * Re-wraps every data key under master key `to`, while processes keep running on `from`: first
 * each data key gets a second wrap, by `to`, a page per statement (processes keep starting on
 * `from` meanwhile); then, in one transaction, the new wraps replace the old, and processes start
 * on `to` alone. Run
 * again after an interruption, it goes on where it stopped; run after it finished, it does
 * nothing. `progress` is told the data keys wrapped so far, and how many there are.
 */
export async function rotateMasterKey(db: Db, from: MasterKey, to: MasterKey, progress: (done: number, total: number) => void = () => {}): Promise<{ total: number }> {
  if (from.id === to.id) throw new ConfigError(`the new master key is the current one (${to.id}): give another`);
  for (;;) {
    const { total, left, unwrapped } = await countRotation(db, { to: to.id });
    if (left === 0) return { total };
    let done = left - unwrapped;
    progress(done, left);
    for (let after = ''; ; ) {
      const rows = await listKeysToRewrap(db, { to: to.id, after, limit: pageSize });
      if (rows.length === 0) break;
      const wraps = rows.map((row) => {
        if (row.master_key_id !== from.id) {
          throw new ConfigError(`data key ${row.id} is wrapped by master key ${row.master_key_id}, which is neither the current master key (${from.id}) nor the new one (${to.id})`);
        }
        return wrapDataKey(to, row.id, unwrapDataKey(from, row.id, Buffer.from(row.wrapped)));
      });
      await storeNextWraps(db, { to: to.id, ids: rows.map((r) => r.id), wraps });
      done += rows.length;
      progress(done, left);
      after = rows[rows.length - 1].id;
    }
    const finished = await db.transaction(async (tx) => {
      // No process makes a data key meanwhile (loadKeyring takes the same lock).
      await tx.query('lock table data_keys in share row exclusive mode');
      return finishRotation(tx, { to: to.id });
    });
    if (finished) return { total };
  }
}
