import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';
import { syncTransitions } from './transitions.ts';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Any constant: the advisory lock that lets one process at a time migrate. */
const migrationLockKey = 727_001;

/** Applies the numbered migrations (`NNN_name.sql`) not yet applied, and the state machines' moves, in one transaction. */
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
    await syncTransitions(tx);
  });
  return applied;
}

