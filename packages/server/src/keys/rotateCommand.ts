import { access, rename } from 'node:fs/promises';
import pino from 'pino';
import { ConfigError, loadConfig } from '../config.ts';
import { holdDataDir } from '../dataDir.ts';
import { type Db, migrate, openPostgres } from '../db/index.ts';
import { databaseStartupError, startupFailure } from '../startup.ts';
import { embeddedKeyFile, loadMasterKey, makeMasterKeyFile, parseMasterKey, readMasterKeyFile, type MasterKey } from './masterKey.ts';
import { rotateMasterKey } from './rotateMaster.ts';

/** The new master key: REFINERY_NEW_MASTER_KEY or REFINERY_NEW_MASTER_KEY_FILE; in embedded mode without either, one made in `master-key.next` (kept there until the rotation ends). */
async function newMasterKey(env: NodeJS.ProcessEnv, embeddedFile: string | null): Promise<{ key: MasterKey; file: string | null }> {
  if (env.REFINERY_NEW_MASTER_KEY) return { key: parseMasterKey(env.REFINERY_NEW_MASTER_KEY, 'REFINERY_NEW_MASTER_KEY'), file: null };
  if (env.REFINERY_NEW_MASTER_KEY_FILE) return { key: await readMasterKeyFile(env.REFINERY_NEW_MASTER_KEY_FILE, 'REFINERY_NEW_MASTER_KEY_FILE'), file: null };
  if (!embeddedFile) throw new ConfigError('give the new master key in REFINERY_NEW_MASTER_KEY or REFINERY_NEW_MASTER_KEY_FILE (make one with: openssl rand -base64 32)');
  const next = `${embeddedFile}.next`;
  const kept = await access(next).then(
    () => true,
    () => false,
  );
  return { key: kept ? await readMasterKeyFile(next, 'the new master key file') : await makeMasterKeyFile(next), file: next };
}

/**
 * `refinery keys rotate-master`: re-wraps every data key under a new master key
 * (keys/rotateMaster.ts). On PostgreSQL, the processes running on the old key keep running
 * throughout; each is given the new key at its next restart. Embedded mode is one process, which
 * holds the data directory: the rotation runs while Refinery is stopped, and the data
 * directory's `master-key` is the new key once it ends.
 */
export async function rotateMasterCommand(flags: { dataDir?: string }): Promise<void> {
  let db: Db | undefined;
  let release = async () => {};
  try {
    const config = loadConfig({ dataDir: flags.dataDir });
    const embedded = !config.databaseUrl && !config.masterKey && !config.masterKeyFile;
    if (config.databaseUrl) {
      db = await openPostgres({ connectionString: config.databaseUrl, log: pino({ level: 'silent' }) }).catch((err) => {
        throw databaseStartupError(err, config.databaseUrl!);
      });
    } else {
      release = await holdDataDir(config.dataDir, pino({ level: 'silent' }));
      const { openPglite } = await import('../db/pglite.ts');
      db = await openPglite(`${config.dataDir}/pgdata`);
    }
    await migrate(db);
    const { master: from } = await loadMasterKey(config);
    const to = await newMasterKey(process.env, embedded ? embeddedKeyFile(config.dataDir) : null);
    const { total } = await rotateMasterKey(db, from, to.key, (done, left) => process.stderr.write(`re-wrapped ${done} of ${left} data keys under master key ${to.key.id}\n`));
    if (to.file) await rename(to.file, embeddedKeyFile(config.dataDir));
    process.stderr.write(
      `Every data key (${total}) is wrapped by master key ${to.key.id} alone; master key ${from.id} opens nothing from now on.\n` +
        (to.file ? `The new key is in ${embeddedKeyFile(config.dataDir)}; keep a copy of it apart from the data.\n` : 'Give the new key to every Refinery process (REFINERY_MASTER_KEY or REFINERY_MASTER_KEY_FILE) before it next starts.\n'),
    );
  } catch (err) {
    const { message, exitCode } = startupFailure(err);
    process.stderr.write(`refinery: ${message}\n`);
    process.exitCode = exitCode;
  } finally {
    await db?.close();
    await release();
  }
}
