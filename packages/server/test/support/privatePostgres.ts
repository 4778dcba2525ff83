/**
 * A PostgreSQL cluster of the test's own, in a temporary directory on a free port, that the test
 * may stop, crash and restart: the shared server (TEST_DATABASE_URL) is never restarted.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { migrate } from '../../src/db/migrate.ts';
import { openPostgres } from '../../src/db/postgres.ts';
import { freePort } from './processes.ts';

const run = promisify(execFile);

/** Where initdb and pg_ctl are: `TEST_POSTGRES_BIN`, or Debian's PostgreSQL 15. */
const binDir = process.env.TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * initdb and pg_ctl refuse to run as root: as root they run as the `postgres` user (runuser), and
 * the directory is made theirs.
 */
const asRoot = userInfo().uid === 0;
const command = (bin: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(binDir, bin), ...args]] : [join(binDir, bin), args]);

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/refinery`: a database migrated to Refinery's schema. */
  databaseUrl: string;
  /** Stops the server: `fast` ends sessions and checkpoints; `immediate` is a crash (recovery at the next start). */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops the server (if up) and removes its directory. */
  close(): Promise<void>;
}

/** Why the private cluster cannot be had here (no binaries, or no `postgres` user to run them as root), or null when it can. */
export function privatePostgresUnavailable(): string | null {
  for (const bin of ['initdb', 'pg_ctl']) {
    if (!existsSync(join(binDir, bin))) return `${join(binDir, bin)} is absent (TEST_POSTGRES_BIN names another folder): no private PostgreSQL cluster to restart`;
  }
  if (asRoot) {
    try {
      pgOwner();
    } catch {
      return 'running as root with no `postgres` user for initdb and pg_ctl: no private PostgreSQL cluster to restart';
    }
  }
  return null;
}

/** Initialises a cluster, starts it and creates a database migrated to Refinery's schema. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const why = privatePostgresUnavailable();
  if (why) throw new Error(why);
  const dir = await mkdtemp(join(tmpdir(), 'refinery-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const { uid, gid } = pgOwner();
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const port = await freePort();
  const pgCtl = (...args: string[]) => run(...command('pg_ctl', ['-D', data, ...args]), { timeout: 60_000 });
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  let up = false;
  const stopNow = () => {
    if (up) execFileSync(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), { stdio: 'ignore' });
  };
  process.once('exit', stopNow);

  await run(...command('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']), { timeout: 120_000 });
  const server: PrivatePostgres = {
    databaseUrl: `postgres://postgres@127.0.0.1:${port}/refinery`,
    async start() {
      await pgCtl('-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start');
      up = true;
    },
    async stop(mode) {
      await pgCtl('-m', mode, '-w', '-t', '60', 'stop');
      up = false;
    },
    async close() {
      process.off('exit', stopNow);
      if (up) await server.stop('immediate').catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query('create database refinery');
    await admin.end();
    const db = await openPostgres({ connectionString: server.databaseUrl, log: pino({ level: 'silent' }) });
    await migrate(db);
    await db.close();
    return server;
  } catch (err) {
    await server.close();
    throw err;
  }
}

function pgOwner(): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()));
  return { uid, gid };
}
