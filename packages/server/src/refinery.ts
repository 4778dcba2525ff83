import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildApp } from './app.ts';
import { createApiKey, hashApiKey } from './auth/apiKeys.ts';
import { getApiKeyByHash } from './auth/queries/getApiKeyByHash.ts';
import { Recent } from './auth/recent.ts';
import { createBackground, type Background } from './background.ts';
import { createSweeper, type Sweeper, sweeperDefaults } from './batches/sweeper.ts';
import { FileBlobStore, fileBlobRoot } from './blobs/fileStore.ts';
import type { S3BlobStore } from './blobs/s3Store.ts';
import type { BlobStore } from './blobs/store.ts';
import { systemClock, type Clock } from './clock.ts';
import { ConfigError, type Config } from './config.ts';
import type { Context } from './context.ts';
import type { Db } from './db/db.ts';
import { migrate } from './db/migrate.ts';
import { holdDataDir } from './dataDir.ts';
import { loadKeyring } from './keys/loadKeyring.ts';
import { loadMasterKey } from './keys/masterKey.ts';
import { sealPlainSecrets } from './keys/sealPlainSecrets.ts';
import { createRecordSealer, type RecordSealer } from './records/encryption.ts';
import { clearSpoolDir } from './records/spool.ts';
import { databaseStartupError, listenStartupError } from './startup.ts';
import { autovacuumRuns, churningTables } from './db/vacuum.ts';
import { openPostgres } from './db/postgres.ts';
import { createMetrics } from './ops/metrics.ts';
import { createPushDispatcher, type PushDispatcher } from './push/dispatcher.ts';
import { createEventSender, type EventSender } from './events/sender.ts';
import { createCleanup, type Cleanup } from './retention/cleanup.ts';
import { randomKey, sharedSetting } from './settings.ts';
import { WorkSignals } from './work/signals.ts';
import type { Loop } from './loop.ts';
import { createAutomationConsumer, type AutomationConsumer } from './automations/consumer.ts';

export interface Refinery {
  ctx: Context;
  app: FastifyInstance;
  background: Background;
  sweeper: Sweeper;
  /** Removes aged-out records (docs/retention.md). */
  cleanup: Cleanup;
  /** Encrypts the records stored before their type was marked encrypted (docs/encryption.md). */
  recordSealer: RecordSealer;
  /** Delivers batches to push robots (docs/push.md). */
  pusher: PushDispatcher;
  /** Delivers request events to callback URLs, signed per Standard Webhooks (docs/events.md). */
  eventSender: EventSender;
  /** Turns what imports touched into the automations' requests (docs/automations.md). */
  automations: AutomationConsumer;
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
  /** Run the background loops (default true); tests call their `runOnce()` themselves. */
  sweep?: boolean;
  sweepIntervalMs?: number;
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
    log.warn({ tables: churningTables, every_ms: sweeperDefaults.vacuumIntervalMs }, 'autovacuum is off on this PostgreSQL: Refinery vacuums its churning tables itself');
  }

  let boundUrl = `http://localhost:${config.port}`;
  const publicUrl = () => config.publicUrl ?? boundUrl;
  const blobs =
    options.blobs ?? s3 ?? new FileBlobStore(fileBlobRoot(config.dataDir), publicUrl, await sharedSetting(db, 'blob_signing_key', randomKey), keys, () => Math.floor(clock.now().getTime() / 1000));
  const work: Context['work'] = new WorkSignals(db, clock, log);
  await work.start();
  const background = createBackground(log);
  const ctx: Context = { db, blobs, clock, log, config, work, keys, recentKeys: new Recent(clock), recentRobots: new Recent(clock), publicUrl, background, metrics: createMetrics(db) };
  const sweeper = createSweeper({ ctx, config: { intervalMs: options.sweepIntervalMs ?? sweeperDefaults.intervalMs } });
  // The background loops: started together, stopped together.
  const pusher = createPushDispatcher({ ctx, config: { timeoutMs: config.pushTimeoutMs } });
  const eventSender = createEventSender({ ctx });
  const cleanup = createCleanup({ ctx });
  const recordSealer = createRecordSealer({ ctx });
  const automations = createAutomationConsumer({ ctx });
  const loops: Array<Loop<unknown>> = [sweeper, cleanup, pusher, eventSender, recordSealer, automations];
  const app = await buildApp(ctx);
  if (options.sweep !== false) for (const loop of loops) loop.start();

  let closed = false;
  return {
    ctx,
    app,
    background,
    sweeper,
    cleanup,
    recordSealer,
    pusher,
    eventSender,
    automations,
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
      for (const loop of loops) await loop.stop();
      await work.stop();
      await background.close();
      s3?.close();
      if (!options.db) await db.close();
      await release();
    },
  };
}
