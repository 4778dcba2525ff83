import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { Logger } from 'pino';
import { exitCodes, StartupError } from './startup.ts';

/**
 * A holder that stops refreshing the lock (killed, or frozen) loses it after this long. The lock
 * is refreshed every half of it.
 */
const staleMs = 6000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes the embedded data directory and holds it for this process, until the returned function
 * lets go: two processes on one PGlite directory would each see only their own writes, and lose
 * one side's at the next start. The lock is `refinery.lock` in the directory (proper-lockfile: made
 * atomically, kept fresh while held); `refinery.pid` names its holder. A holder that was killed
 * cannot let go: its lock is taken over once it has gone stale, a few seconds on.
 */
export async function holdDataDir(dir: string, log: Logger): Promise<() => Promise<void>> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it is a file, not a directory' : (err as Error).message;
    throw new StartupError(`the data directory ${dir} cannot be used: ${why} (choose another with --data-dir or REFINERY_DATA_DIR)`, exitCodes.dataDir, { cause: err });
  }
  const pidFile = join(dir, 'refinery.pid');
  const holder = async () => Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || null;
  const inUse = (pid: number | null) =>
    new StartupError(`the data directory ${dir} is in use by another Refinery${pid ? ` (process ${pid})` : ''}; stop it first, or give this one another --data-dir`, exitCodes.dataDir);
  const lock = (retries: number) =>
    lockfile.lock(dir, {
      lockfilePath: join(dir, 'refinery.lock'),
      realpath: false,
      stale: staleMs,
      retries: { retries, factor: 1, minTimeout: 500, maxTimeout: 500 },
      onCompromised: (err) => log.error({ err, data_dir: dir }, 'the lock on the data directory was lost: another process may be using it'),
    });
  let release: () => Promise<void>;
  try {
    release = await lock(0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    const pid = await holder();
    if (pid !== null && pid !== process.pid && alive(pid)) throw inUse(pid);
    // Its holder is gone without letting go: wait for the lock to go stale.
    try {
      release = await lock(Math.ceil(staleMs / 500) + 2);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'ELOCKED') throw inUse(await holder());
      throw again;
    }
  }
  await writeFile(pidFile, `${process.pid}\n`);
  return async () => {
    await rm(pidFile, { force: true });
    await release();
  };
}
