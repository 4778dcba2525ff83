import type { Readable } from 'node:stream';
import split2 from 'split2';

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
   * Loads a file of rows, each a `rowLine`, into a table set-based: `COPY … FROM STDIN` on
   * PostgreSQL, large `jsonb_populate_recordset` inserts on PGlite. Returns the rows loaded.
   */
  copyFrom(table: string, columns: readonly string[], file: Readable): Promise<number>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** One row as a line of a file for `copyFrom`, in what the database loads fastest: COPY text on PostgreSQL, a JSON object on PGlite. */
  rowLine(columns: readonly string[], row: readonly unknown[]): string;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Calls `onNotify` for every NOTIFY on `channel` until the returned function is called. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /** The connection pools' use now (PostgreSQL; PGlite has no pool). */
  pools?(): PoolUse[];
}

export interface PoolUse {
  pool: 'main' | 'lookup';
  max: number;
  /** Connections open, and of those idle. */
  open: number;
  idle: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

/** Double-quotes an identifier, the only thing ever interpolated into SQL. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Rows per insert where a file of `rowLine`s is loaded with inserts (PGlite). */
const rowsPerInsert = 2000;

/** A row as a JSON object line: what `jsonb_populate_recordset` takes. */
export function jsonRowLine(columns: readonly string[], row: readonly unknown[]): string {
  let line = '{';
  for (let i = 0; i < columns.length; i++) line += `${i === 0 ? '' : ','}${JSON.stringify(columns[i])}:${JSON.stringify(row[i] ?? null)}`;
  return line + '}\n';
}

/** Loads a file of `jsonRowLine`s with `insert … select from jsonb_populate_recordset`, `rowsPerInsert` rows a statement: the PGlite way. */
export async function insertJsonLines(q: Pick<Queryable, 'query'>, table: string, columns: readonly string[], file: Readable): Promise<number> {
  const cols = columns.map(ident).join(', ');
  const insert = (lines: string[]) => q.query(`insert into ${ident(table)} (${cols}) select ${cols} from jsonb_populate_recordset(null::${ident(table)}, $1::jsonb)`, [`[${lines.join(',')}]`]);
  let count = 0;
  let lines: string[] = [];
  for await (const line of file.pipe(split2()) as AsyncIterable<string>) {
    lines.push(line);
    if (lines.length === rowsPerInsert) {
      await insert(lines);
      count += lines.length;
      lines = [];
    }
  }
  if (lines.length > 0) await insert(lines);
  return count + lines.length;
}

/** Whether a statement failed on unique index `index` (SQLSTATE 23505), from either driver. */
export function isUniqueViolation(err: unknown, index: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === index;
}
