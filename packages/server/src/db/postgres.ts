import { createHash } from 'node:crypto';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { ident, type Db, type Queryable, type QueryOptions, type QueryResult } from './db.ts';

// PostgreSQL's COPY text format: backslash escapes, \N for null.
function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

/** A row as a line of COPY's text format. */
function copyLine(_columns: readonly string[], row: readonly unknown[]): string {
  return row.map(copyField).join('\t') + '\n';
}

async function copyFromWith(client: pg.PoolClient, table: string, columns: readonly string[], file: Readable): Promise<number> {
  const stream = client.query(copyFrom(`copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin`));
  await pipeline(file, stream);
  return stream.rowCount;
}

const statementNames = new Map<string, string>();

/** How often a lost LISTEN connection is tried again while the database does not answer. */
const listenRetryMs = 250;
/** How long making the LISTEN connection may take before it is tried again (a network that drops packets). */
const listenConnectTimeoutMs = 5000;

/** The query as pg takes it: a named statement, named after its text, when it is to be kept parsed. */
function statement(sql: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined): pg.QueryConfig {
  if (!options?.prepared && !options?.lookup) return { text: sql, values: params as unknown[] };
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `refinery_${createHash('sha1').update(sql).digest('hex')}`));
  return { name, text: sql, values: params as unknown[] };
}

function wrap(client: pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
      const result = await client.query(statement(sql, params, options));
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
    copyFrom: (table, columns, file) => copyFromWith(client, table, columns, file),
  };
}

export interface PostgresOptions {
  connectionString: string;
  /** Connections in all, besides the one that listens (20): a fifth of them, at most four, run lookups (QueryOptions). */
  maxConnections?: number;
  log: Logger;
}

/**
 * A statement kept parsed would switch to a generic plan after five calls: one plan made for any
 * values and kept while the tables it reads grow by orders of magnitude. So every connection plans
 * every call for its own values (the triggers' statements too). No JIT: a statement whose estimate
 * crosses `jit_above_cost` (a guess over a view of all items, an unknown span's range) spent 100 to
 * 400 ms compiling to run in a few (docs/internals/0034-lease-by-span.md).
 */
const customPlans = ['plan_cache_mode=force_custom_plan', 'jit=off'];

/**
 * The connections that run `lookup` statements (QueryOptions) plan each statement once, at its
 * first call, for index lookups joined by nested loops: the choice any table size gets right for
 * a few rows by key, so a plan made when a table held ten rows stays right at ten million. (Planned
 * for its values, a one-item create spends as long planning as running: dispatch latency,
 * docs/internals/0005-statement-planning.md.)
 */
const lookupPlans = ['plan_cache_mode=force_generic_plan', 'jit=off', 'enable_seqscan=off', 'enable_hashjoin=off', 'enable_mergejoin=off'];

/** A pool's connection string with `settings` in the connection's startup `options`, added to any the string has. */
function withSettings(connectionString: string, settings: string[]): pg.PoolConfig {
  const options = settings.map((s) => `-c ${s}`).join(' ');
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return { connectionString, options };
  }
  url.searchParams.set('options', `${url.searchParams.get('options') ?? ''} ${options}`.trim());
  return { connectionString: url.href };
}

export async function openPostgres(options: PostgresOptions): Promise<Db> {
  const connections = Math.max(2, options.maxConnections ?? 20);
  const lookupConnections = Math.min(4, Math.ceil(connections / 5));
  const pool = new pg.Pool({ ...withSettings(options.connectionString, customPlans), max: connections - lookupConnections });
  const lookups = new pg.Pool({ ...withSettings(options.connectionString, lookupPlans), max: lookupConnections });
  for (const p of [pool, lookups]) p.on('error', (err) => options.log.warn({ err }, 'idle PostgreSQL connection failed'));
  // With every lookup connection busy, a lookup runs on the other pool, planned for its values there, rather than wait.
  const lookupPool = () => (lookups.idleCount > 0 || lookups.totalCount < lookupConnections ? lookups : pool);
  await pool.query('select 1');

  /**
   * A pool connection for `fn`. Its session may end under it (a restart, pg_terminate_backend, the
   * network): the error then fails `fn`'s statement rather than go unheard (an 'error' event that
   * nobody listens to ends the process), and the connection is dropped, not reused.
   */
  async function withConnection<T>(fn: (client: pg.PoolClient, broken: (err: Error) => void) => Promise<T>): Promise<T> {
    let failed: Error | undefined;
    const broken = (err: Error) => void (failed ??= err);
    // Listening from within the callback: a new connection can be handed out while the server's
    // message ending its session waits in the same packet, read before an awaiting caller resumes.
    const client = await new Promise<pg.PoolClient>((resolve, reject) =>
      pool.connect((err, connected) => {
        if (err || !connected) return reject(err);
        connected.on('error', broken);
        resolve(connected);
      }),
    );
    try {
      return await fn(client, broken);
    } finally {
      client.off('error', broken);
      client.release(failed);
    }
  }

  // One connection per process carries every LISTEN. Lost, it is made again at once, and then
  // every listenRetryMs while the database does not answer, with all its channels.
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let listener: Promise<pg.Client> | null = null;
  let closed = false;

  async function connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: options.connectionString, connectionTimeoutMillis: listenConnectTimeoutMs });
    let made = false;
    let gone = false;
    // A connection lost once made is made again; one lost while being made (its end can arrive in
    // the packet that answers its last LISTEN) fails the making, below.
    const lose = (err?: Error) => {
      if (gone) return;
      gone = true;
      client.end().catch(() => {});
      if (made) lost(err);
    };
    client.on('notification', (msg) => {
      for (const handler of handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
    });
    client.on('error', lose);
    client.on('end', () => lose());
    try {
      await client.connect();
      for (const channel of handlers.keys()) await client.query(`listen ${ident(channel)}`);
    } catch (err) {
      lose();
      throw err;
    }
    if (gone || closed) {
      lose();
      throw new Error('the LISTEN connection ended as it was made');
    }
    made = true;
    return client;
  }

  /** The connection that listens, once it does; made when there is none. */
  function listening(): Promise<pg.Client> {
    listener ??= connectListener().catch((err) => {
      listener = null;
      throw err;
    });
    return listener;
  }

  function lost(err?: Error): void {
    listener = null;
    if (closed) return;
    options.log.warn({ err }, 'LISTEN connection lost; making it again');
    void listenAgain();
  }

  async function listenAgain(): Promise<void> {
    for (let attempt = 1; !closed; attempt++) {
      try {
        await listening();
        options.log.info({ attempts: attempt }, 'LISTEN connection made again');
        return;
      } catch (err) {
        if (attempt === 1) options.log.warn({ err }, 'the database does not answer; LISTEN is made again once it does');
        await new Promise((resolve) => setTimeout(resolve, listenRetryMs).unref());
      }
    }
  }

  const db: Db = {
    kind: 'postgres',
    async query<R>(sql: string, params?: readonly unknown[], options?: QueryOptions) {
      const result = await (options?.lookup ? lookupPool() : pool).query(statement(sql, params, options));
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    rowLine: copyLine,
    copyFrom: (table, columns, file) => withConnection((client) => copyFromWith(client, table, columns, file)),
    transaction: (fn) =>
      withConnection(async (client, broken) => {
        await client.query('begin');
        try {
          const result = await fn(wrap(client));
          await client.query('commit');
          return result;
        } catch (err) {
          await client.query('rollback').catch(broken);
          throw err;
        }
      }),
    async listen(channel, onNotify) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await (await listening()).query(`listen ${ident(channel)}`);
      }
      set.add(onNotify);
      return async () => {
        set.delete(onNotify);
      };
    },
    async close() {
      closed = true;
      const client = await listener?.catch(() => null);
      await client?.end().catch(() => {});
      await Promise.all([pool.end(), lookups.end()]);
    },
    pools: () =>
      ([['main', pool], ['lookup', lookups]] as const).map(([name, p]) => ({ pool: name, max: p.options.max, open: p.totalCount, idle: p.idleCount, waiting: p.waitingCount })),
  };
  return db;
}
