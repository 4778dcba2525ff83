/**
 * `npm run schema`: writes packages/server/src/db/schema.sql, the schema a fresh database has once
 * migrated (tables, indexes, functions, triggers), as `pg_dump --schema-only` prints it, so that
 * it can be read in one place. A test fails when the committed file differs from a freshly
 * migrated database (docs/internals/0027-schema-one-can-read.md). Needs PostgreSQL
 * (TEST_DATABASE_URL, the local one by default) and its pg_dump (TEST_POSTGRES_BIN).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { migrate } from '../packages/server/src/db/migrate.ts';
import { openPostgres } from '../packages/server/src/db/postgres.ts';

export const schemaPath = fileURLToPath(new URL('../packages/server/src/db/schema.sql', import.meta.url));
export const pgDump = join(process.env.TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin', 'pg_dump');

/** The schema of a database freshly made and migrated on the server at `serverUrl`. */
export async function migratedSchema(serverUrl: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `refinery_schema_${randomBytes(6).toString('hex')}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  try {
    await admin.query(`create database "${name}"`);
    const db = await openPostgres({ connectionString: url.toString(), log: pino({ level: 'silent' }) });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    const { stdout } = await promisify(execFile)(pgDump, ['--schema-only', '--no-owner', '--no-privileges', '--no-tablespaces', '--dbname', url.toString()], { maxBuffer: 16 * 1024 * 1024 });
    return tidy(stdout);
  } finally {
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

/** pg_dump's output without what changes from one dump to the next: its version lines, the random key of its `\restrict` lines, its session settings. */
function tidy(dump: string): string {
  const kept = dump.split('\n').filter((line) => !/^-- Dumped (from|by)/.test(line) && !/^\\(un)?restrict /.test(line) && !/^SET /.test(line) && !/^SELECT pg_catalog\.set_config/.test(line));
  const header = ['-- The schema of a freshly migrated database, made by `npm run schema`; do not edit (docs/internals/0027-schema-one-can-read.md).'];
  return [...header, ...kept].join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(schemaPath, await migratedSchema(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'));
}
