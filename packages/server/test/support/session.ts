import pg from 'pg';
import type { Queryable } from '../../src/db/db.ts';

/** A PostgreSQL session of its own (what another Refinery process is to the database): a transaction on it is invisible to the others until it commits. */
export async function session(databaseUrl: string): Promise<{ q: Queryable; pid: number; client: pg.Client }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const q = {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const r = await client.query(sql, params as unknown[]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
  } as Queryable;
  const { rows } = await client.query('select pg_backend_pid() as pid');
  return { q, pid: rows[0].pid, client };
}
