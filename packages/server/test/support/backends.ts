import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import type { Db } from '../../src/db/db.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openPglite } from '../../src/db/pglite.ts';
import { openPostgres } from '../../src/db/postgres.ts';

/** The server the PostgreSQL suites run against (`TEST_DATABASE_URL`; the local one by default). */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type BackendName = 'pglite' | 'postgres';

export interface Backend {
  name: BackendName;
  /** A fresh, migrated database of its own, and how to drop it. */
  open(): Promise<{ db: Db; databaseUrl: string | null; drop(): Promise<void> }>;
}

const schemaDirs = ['migrations', 'functions'].map((d) => fileURLToPath(new URL(`../../src/db/${d}/`, import.meta.url)));
const schemaHash = createHash('sha256')
  .update(schemaDirs.flatMap((dir) => readdirSync(dir).sort().map((f) => f + readFileSync(join(dir, f), 'utf8'))).join('\n'))
  .digest('hex')
  .slice(0, 12);
const templateName = `refinery_template_${schemaHash}`;

function urlFor(database: string): string {
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

let postgresAvailable: Promise<boolean> | null = null;
async function checkPostgres(): Promise<boolean> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI but ${testDatabaseUrl} does not answer: ${(err as Error).message}`);
    console.warn(`# PostgreSQL at ${testDatabaseUrl} does not answer; its suites are skipped (they never are in CI)`);
    return false;
  }
}

/** The template database, migrated once per schema version; every test file clones it. */
async function ensureTemplate(admin: pg.Client): Promise<void> {
  await admin.query('select pg_advisory_lock(727100)');
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [templateName]);
    if (rowCount) return;
    await admin.query(`create database "${templateName}_tmp"`).catch(async () => {
      await admin.query(`drop database "${templateName}_tmp"`);
      await admin.query(`create database "${templateName}_tmp"`);
    });
    const db = await openPostgres({ connectionString: urlFor(`${templateName}_tmp`), log: pino({ level: 'silent' }) });
    await migrate(db);
    await db.close();
    await admin.query(`alter database "${templateName}_tmp" rename to "${templateName}"`);
  } finally {
    await admin.query('select pg_advisory_unlock(727100)');
  }
}

export const backends: Backend[] = [
  {
    name: 'pglite',
    async open() {
      const db = await openPglite();
      await migrate(db);
      return { db, databaseUrl: null, drop: () => db.close() };
    },
  },
  {
    name: 'postgres',
    async open() {
      const admin = new pg.Client({ connectionString: testDatabaseUrl });
      await admin.connect();
      const name = `refinery_test_${randomBytes(6).toString('hex')}`;
      try {
        await ensureTemplate(admin);
        await admin.query(`create database "${name}" template "${templateName}"`);
      } finally {
        await admin.end();
      }
      const databaseUrl = urlFor(name);
      const db = await openPostgres({ connectionString: databaseUrl, log: pino({ level: 'silent' }) });
      return {
        db,
        databaseUrl,
        async drop() {
          await db.close();
          const a = new pg.Client({ connectionString: testDatabaseUrl });
          await a.connect();
          await a.query(`drop database if exists "${name}" with (force)`);
          await a.end();
        },
      };
    },
  },
];

/** The backends to run: PGlite always, PostgreSQL when it answers (always in CI). */
export async function availableBackends(): Promise<Backend[]> {
  postgresAvailable ??= checkPostgres();
  return (await postgresAvailable) ? backends : backends.filter((b) => b.name === 'pglite');
}

export async function tempDir(prefix = 'refinery-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
