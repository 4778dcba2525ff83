/**
 * The one narrow interface between Refinery and its database. Two drivers implement it:
 * `pg` (PostgreSQL, many processes) and PGlite (embedded, one process). Every query is plain
 * PostgreSQL; every parameter is cast in the SQL (`$1::uuid[]`), and values that PGlite and pg
 * would parse differently (bigint, numeric) are cast to int or text in the SQL.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Keep the statement parsed on the connection (PostgreSQL: a named prepared statement, still
   * planned for its values at every call). For the statements between a request and its robot
   * (dispatch latency), whose parsing is a tenth of a dispatch. Their result columns are listed,
   * never `*`, so a column added by a later migration does not invalidate them. PGlite ignores it.
   */
  prepared?: boolean;
  /**
   * The statement reads and writes a few rows by key, whatever its values. PostgreSQL runs it on
   * connections of their own that keep it parsed and plan it once, for index lookups, whatever
   * the tables' sizes then (when all of those are busy, as `prepared`). Outside a transaction only
   * (in one, it is `prepared`). PGlite ignores it.
   */
  lookup?: boolean;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /** Runs a script of several statements (migrations), without parameters. */
  exec(sql: string): Promise<void>;
  /**
   * Loads rows into a table set-based: `COPY … FROM STDIN` on PostgreSQL, large
   * `jsonb_populate_recordset` inserts on PGlite. Rows are consumed as they come.
   */
  copyRows(table: string, columns: readonly string[], rows: AsyncIterable<readonly unknown[]>): Promise<number>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Calls `onNotify` for every NOTIFY on `channel` until the returned function is called. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Double-quotes an identifier, the only thing ever interpolated into SQL. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export const rowsPerInsert = 2000;

/** Groups an async iterable into arrays of at most `size`. */
export async function* chunked<T>(source: AsyncIterable<T>, size: number): AsyncIterable<T[]> {
  let chunk: T[] = [];
  for await (const item of source) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** `insert … select from jsonb_populate_recordset`: the PGlite way to load many rows in one statement. */
export async function insertRowsAsJson(q: Pick<Queryable, 'query'>, table: string, columns: readonly string[], rows: AsyncIterable<readonly unknown[]>): Promise<number> {
  const cols = columns.map(ident).join(', ');
  let count = 0;
  for await (const chunk of chunked(rows, rowsPerInsert)) {
    const objects = chunk.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
    await q.query(`insert into ${ident(table)} (${cols}) select ${cols} from jsonb_populate_recordset(null::${ident(table)}, $1::jsonb)`, [JSON.stringify(objects)]);
    count += chunk.length;
  }
  return count;
}
