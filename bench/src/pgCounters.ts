/**
 * What PostgreSQL itself counted for one run on the bench's own database, between the clock's
 * start and stop: the rows written (pg_stat_database: tuples inserted + updated + deleted) and the
 * WAL written. PostgreSQL 15 or later (pg_walinspect).
 *
 * - Rows: a backend adds its counts to pg_stat_database at most once a second, and an idle one
 *   within PGSTAT_IDLE_INTERVAL (10 s). So each reading comes `settleMs` after the writes it must
 *   count: the first one that long after the caller's setup, the last that long after the clock
 *   stopped (so anything written meanwhile counts too).
 * - WAL: the cluster's WAL is shared with whatever else runs on the server, so the LSN advance
 *   (`clusterWalBytes`) counts others' writes too. `walBytes` is the size of the WAL records between
 *   the two LSNs that touch the bench's database (pg_walinspect's block references, full-page images
 *   included), plus the commit records of their transactions. A temporary replication slot keeps
 *   that WAL until it is read.
 * - CPU: `backendCpuSeconds` is that of the processes serving the bench's database (cpuTime.ts's
 *   databaseCpuTimer), which the server's other clients do not pollute.
 */
import pg from 'pg';
import { databaseCpuTimer } from './cpuTime.ts';
import { sleep } from './support.ts';

export interface PgCounts {
  rowsWritten: number;
  /** WAL records of the bench's database and their commits, bytes. */
  walBytes: number;
  /** The LSN advance, whatever wrote it. */
  clusterWalBytes: number;
  /** CPU seconds of the PostgreSQL processes serving the bench's database. */
  backendCpuSeconds: number;
}

const settleMs = 11_000;

/**
 * Call once the setup is done and the processes under test wait; resolves once PostgreSQL has
 * counted the setup (`settleMs`), just before the caller starts its clock. The returned function,
 * called as the clock stops, reads the counts since.
 */
export async function startPgCounts(url: string): Promise<() => Promise<PgCounts>> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // ended by the database's drop, should the run fail
  await client.connect();
  try {
    await client.query('create extension if not exists pg_walinspect');
    await client.query(`select pg_create_physical_replication_slot('refinery_bench_' || pg_backend_pid(), true, true)`);
    await sleep(settleMs);
    const before = await read(client);
    const cpu = databaseCpuTimer(new URL(url).pathname.slice(1));
    return async () => {
      try {
        const backendCpuSeconds = cpu();
        const stopped = performance.now();
        const { rows } = await client.query<{ lsn: string; cluster: string }>(`select pg_current_wal_lsn()::text as lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint::text as cluster`, [before.lsn]);
        const walBytes = await ownWalBytes(client, before.lsn, rows[0].lsn);
        await sleep(settleMs - (performance.now() - stopped));
        const after = await read(client);
        return { rowsWritten: after.rows - before.rows, walBytes, clusterWalBytes: Number(rows[0].cluster), backendCpuSeconds };
      } finally {
        await client.end();
      }
    };
  } catch (error) {
    await client.end();
    throw error;
  }
}

async function read(client: pg.Client): Promise<{ rows: number; lsn: string }> {
  const { rows } = await client.query<{ rows: string; lsn: string }>(
    `select (tup_inserted + tup_updated + tup_deleted)::text as rows, pg_current_wal_lsn()::text as lsn
     from pg_stat_database where datname = current_database()`,
  );
  return { rows: Number(rows[0].rows), lsn: rows[0].lsn };
}

/** One pass over the WAL between `from` and `to`, by transaction: a transaction's commit counts if any of its records touch this database. */
async function ownWalBytes(client: pg.Client, from: string, to: string): Promise<number> {
  // pg_walinspect reads only WAL already flushed; the WAL writer flushes within wal_writer_delay.
  while (!(await client.query(`select pg_current_wal_flush_lsn() >= $1::pg_lsn as flushed`, [to])).rows[0].flushed) await sleep(50);
  const { rows } = await client.query<{ bytes: string }>(
    `with mine as (select '%/' || oid || '/%' as ref from pg_database where datname = current_database()),
     by_xact as (
       select w.xid,
              coalesce(sum(w.record_length) filter (where w.block_ref like mine.ref), 0) as own,
              bool_or(w.block_ref like mine.ref) as touches,
              coalesce(sum(w.record_length) filter (where w.resource_manager = 'Transaction'), 0) as ends
       from pg_get_wal_records_info($1, $2) w, mine
       group by w.xid)
     select coalesce(sum(own + case when touches and xid <> '0' then ends else 0 end), 0)::text as bytes from by_xact`,
    [from, to],
  );
  return Number(rows[0].bytes);
}
