import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp } from './app.ts';
import { createApiKey, getApiKeyByHash, hashApiKey, Recent } from './auth/index.ts';
import { createBackground, type Background } from './background.ts';
import { type BlobStore, fileBlobRoot, FileBlobStore, type S3BlobStore } from './blobs/index.ts';
import { systemClock, type Clock } from './clock.ts';
import { ConfigError, type Config } from './config.ts';
import type { Context } from './context.ts';
import { autovacuumRuns, churningTables, type Db, migrate, openPostgres } from './db/index.ts';
import { holdDataDir } from './dataDir.ts';
import { loadKeyring, loadMasterKey, sealPlainSecrets } from './keys/index.ts';
import { clearSpoolDir } from './records/index.ts';
import { databaseStartupError, listenStartupError } from './startup.ts';
import { createMaintenance, type Maintenance } from './maintenance/index.ts';
import { createMetrics, flushTraces, startTracing } from './ops/index.ts';
import { createPushDispatcher, type PushDispatcher } from './push/index.ts';
import { randomKey, sharedSecret } from './settings.ts';
import { WorkSignals } from './work/index.ts';

export interface Refinery {
  ctx: Context;
  app: FastifyInstance;
  background: Background;
  /** The maintenance services (maintenance/): leases, deadlines, imports, backlogs, manifests, retention, webhooks, sealing… */
  maintenance: Maintenance;
  /** Delivers batches to push robots (docs/push.md). */
  pusher: PushDispatcher;
  /** The admin key to print: made now, or kept in the data directory (embedded mode); null when set by the operator or made earlier. */
  newAdminKey: string | null;
  /** The master key file made at this start (embedded mode's first), to say so; else null. */
  newMasterKeyFile: string | null;
  /** Listens on the configured port; returns the URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface RefineryOptions {
  config: Config;
  /** An open, empty-or-migrated database; otherwise opened from the config. */
  db?: Db;
  blobs?: BlobStore;
  clock?: Clock;
  log?: Logger;
  /** Run the maintenance services and the push dispatcher (default true); tests call their `runOnce()` themselves. */
  sweep?: boolean;
}

/** The database, and in embedded mode the data directory, held until `release`. */
async function openDb(config: Config, log: Logger): Promise<{ db: Db; release(): Promise<void> }> {
  if (config.databaseUrl) {
    const db = await openPostgres({ connectionString: config.databaseUrl, log }).catch((err) => {
      throw databaseStartupError(err, config.databaseUrl!);
    });
    return { db, release: async () => {} };
  }
  const release = await holdDataDir(config.dataDir, log);
  try {
    await clearSpoolDir(config);
    // PGlite and the S3 client are loaded only when configured: the AWS SDK alone is 20 MB of memory.
    const { openPglite } = await import('./db/pglite.ts');
    return { db: await openPglite(join(config.dataDir, 'pgdata')), release };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * The admin key: REFINERY_ADMIN_KEY's (inserted if new; refused if it was revoked), or in embedded
 * mode the one kept in the data directory (a new one when there is none, or it was revoked), or
 * on PostgreSQL a new one when there is no admin key. Returns a key made or kept here, to print.
 */
async function bootstrapAdminKey(db: Db, config: Config, now: Date): Promise<string | null> {
  if (config.adminKey) {
    await createApiKey(db, { name: 'admin (REFINERY_ADMIN_KEY)', role: 'admin', key: config.adminKey, now });
    if (!(await getApiKeyByHash(db, hashApiKey(config.adminKey)))) throw new ConfigError('REFINERY_ADMIN_KEY is a key that was revoked: give it a new value');
    return null;
  }
  if (!config.databaseUrl) {
    const file = join(config.dataDir, 'admin-key');
    const kept = await readFile(file, 'utf8').then((t) => t.trim(), () => null);
    if (kept && (await getApiKeyByHash(db, hashApiKey(kept)))) return kept;
    const { key } = await createApiKey(db, { name: 'admin', role: 'admin', now });
    await writeFile(file, key + '\n', { mode: 0o600 });
    return key;
  }
  const { rows } = await db.query(`select 1 from api_keys where role = 'admin' and revoked_at is null limit 1`);
  if (rows.length > 0) return null;
  return (await createApiKey(db, { name: 'admin', role: 'admin', now })).key;
}

/** Opens everything a Refinery process needs, in order: blob store, database, migrations, signals, app. */
export async function createRefinery(options: RefineryOptions): Promise<Refinery> {
  const { config } = options;
  const log = options.log ?? pino({ level: config.logLevel });
  // S3 is checked before the database is opened: a wrong setting stops the start having changed nothing.
  const s3 = !options.blobs && config.blobUrl ? await (await import('./blobs/s3Store.ts')).openS3BlobStore(config.blobUrl, config.s3Endpoint, log) : null;
  let opened: { db: Db; release(): Promise<void> } | undefined;
  try {
    opened = options.db ? { db: options.db, release: async () => {} } : await openDb(config, log);
    return await assemble(options, { ...opened, s3, log });
  } catch (err) {
    if (opened && !options.db) await opened.db.close().catch(() => {});
    await opened?.release();
    s3?.close();
    throw err;
  }
}

async function assemble(
  options: RefineryOptions,
  { db, release, s3, log }: { db: Db; release(): Promise<void>; s3: S3BlobStore | null; log: Logger },
): Promise<Refinery> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const applied = await migrate(db);
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
  // The master key is read after the migrations, which never need it, and before anything that seals.
  const { master, made } = await loadMasterKey(config);
  const source = config.masterKey ? 'REFINERY_MASTER_KEY' : `the master key in ${config.masterKeyFile ?? join(config.dataDir, 'master-key')}`;
  const keys = await loadKeyring(db, master, clock.now(), source).catch(async (err) => {
    // A key made now for a database that has keys already (its own key file was lost) is no use: not kept.
    if (made) await rm(made, { force: true });
    throw err;
  });
  if (made) log.warn({ file: made }, 'made a master key: keep a copy of it apart from the data directory, for without it nothing encrypted can be read (docs/encryption.md)');
  const sealed = await sealPlainSecrets(db, keys);
  if (sealed > 0) log.info({ secrets: sealed }, 'encrypted the secrets stored before encryption at rest');
  const newAdminKey = await bootstrapAdminKey(db, config, clock.now());
  if (db.kind === 'postgres' && !(await autovacuumRuns(db))) {
    log.warn({ tables: churningTables, every_ms: config.maintenanceIntervalsMs.vacuum }, 'autovacuum is off on this PostgreSQL: Refinery vacuums its churning tables itself');
  }

  let boundUrl = `http://localhost:${config.port}`;
  const publicUrl = () => config.publicUrl ?? boundUrl;
  const blobs =
    options.blobs ?? s3 ?? new FileBlobStore(fileBlobRoot(config.dataDir), publicUrl, await sharedSecret(db, keys, 'blob_signing_key', randomKey), keys, () => Math.floor(clock.now().getTime() / 1000));
  const work: Context['work'] = new WorkSignals(db, clock, log);
  await work.start();
  const background = createBackground(log);
  const ctx: Context = { db, blobs, clock, log, config, work, keys, recentKeys: new Recent(clock), recentRobots: new Recent(clock), publicUrl, background, metrics: createMetrics(db) };
  const maintenance = createMaintenance(ctx);
  const pusher = createPushDispatcher({ ctx, config: { timeoutMs: config.pushTimeoutMs, intervalMs: config.maintenanceIntervalsMs.pushDispatch } });
  await startTracing();
  const app = await buildApp(ctx);
  if (options.sweep !== false) {
    maintenance.start();
    pusher.start();
  }

  let closed = false;
  return {
    ctx,
    app,
    background,
    maintenance,
    pusher,
    newAdminKey,
    newMasterKeyFile: made,
    async listen() {
      await app.listen({ port: config.port, host: config.host }).catch((err) => {
        throw listenStartupError(err, config.host, config.port);
      });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      boundUrl = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
      return publicUrl();
    },
    /** Graceful: stop taking requests, let imports under way finish, then close the database. */
    async close() {
      if (closed) return;
      closed = true;
      // A keep-alive connection whose request ends after the close began (a long poll, an event
      // stream, an upload) would stay open for its keep-alive time: each is closed once idle.
      const reaper = setInterval(() => app.server.closeIdleConnections(), 100).unref();
      await app.close().finally(() => clearInterval(reaper));
      // Work that loops (a backlog's writer) stops after its current step from here on, the
      // maintenance passes under way with it.
      const drained = background.close();
      await Promise.all([maintenance.stop(), pusher.stop()]);
      await work.stop();
      await drained;
      await flushTraces().catch((err) => log.warn({ err }, 'could not send the last spans'));
      s3?.close();
      if (!options.db) await db.close();
      await release();
    },
  };
}
