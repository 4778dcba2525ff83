import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';
import { syncTransitions } from './transitions.ts';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));
const functionsDir = fileURLToPath(new URL('./functions/', import.meta.url));
/** Any constant: the advisory lock that lets one process at a time migrate. */
const migrationLockKey = 727_001;

/**
 * Applies, in one transaction: the numbered migrations (`NNN_name.sql`, tables and data moves) not
 * yet applied; the functions and triggers (`functions/*.sql`) whose file changed since it was last
 * applied; and the state machines' moves (docs/internals/0027-schema-one-can-read.md).
 */
export async function migrate(db: Db): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1::bigint)', [migrationLockKey]);
    await tx.query('create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())');
    const done = new Set((await tx.query<{ name: string }>('select name from schema_migrations')).rows.map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(migrationsDir + file, 'utf8');
      await tx.exec(sql);
      await tx.query('insert into schema_migrations (name) values ($1::text)', [file]);
      applied.push(file);
    }
    await tx.query('create table if not exists schema_functions (file text primary key, sha256 text not null)');
    const appliedHash = new Map((await tx.query<{ file: string; sha256: string }>('select file, sha256 from schema_functions')).rows.map((r) => [r.file, r.sha256]));
    for (const file of (await readdir(functionsDir)).filter((f) => f.endsWith('.sql')).sort()) {
      const sql = await readFile(functionsDir + file, 'utf8');
      const sha256 = createHash('sha256').update(sql).digest('hex');
      if (appliedHash.get(file) === sha256) continue;
      await tx.exec(sql);
      await tx.query('insert into schema_functions (file, sha256) values ($1::text, $2::text) on conflict (file) do update set sha256 = excluded.sha256', [file, sha256]);
      applied.push(`functions/${file}`);
    }
    await syncTransitions(tx);
  });
  return applied;
}

