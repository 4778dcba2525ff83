import { PGlite } from '@electric-sql/pglite';
import { insertRowsAsJson, type Db, type Queryable, type QueryResult } from './db.ts';

type PGliteTx = Parameters<Parameters<PGlite['transaction']>[0]>[0];

function wrap(q: PGlite | PGliteTx): Queryable {
  const queryable: Queryable = {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const result = await q.query<R>(sql, params as unknown[]);
      // PGlite reports affectedRows 0 for a SELECT; pg's rowCount is the rows returned.
      return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
    copyRows: (table, columns, rows) => insertRowsAsJson(queryable, table, columns, rows),
  };
  return queryable;
}

/** PGlite: PostgreSQL compiled to WebAssembly, in this process. `dataDir` undefined keeps it in memory. */
export async function openPglite(dataDir?: string): Promise<Db> {
  const pglite = await PGlite.create(dataDir ? { dataDir } : {});
  const base = wrap(pglite);
  return {
    kind: 'pglite',
    ...base,
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    async listen(channel, onNotify) {
      const unsubscribe = await pglite.listen(channel, onNotify);
      return unsubscribe;
    },
    close: () => pglite.close(),
  };
}
