/**
 * The dashboard's reads on one request of BENCH_DASHBOARD_ITEMS (default 1,000,000) items, on
 * PostgreSQL, over HTTP against Refinery in a process of its own: the request (its counts), the
 * first page of its items, of its completed items, a page of its failed items (the first, and one
 * from the middle), its errors grouped by code, and its throughput. The request is created through the API with one
 * record; its other items are added in SQL (items keep their record's id without a foreign key,
 * docs/internals/0004, so no records are imported for them) and all are settled in SQL, through
 * the moves a robot's work makes, in batches of 1,000 that complete (their items move with them,
 * docs/internals/0030 and 0034), 1 in 10 items failed with one of 5 codes, as a finished request leaves
 * them; the tables are then vacuumed and analyzed, as autovacuum would. Each read: the median of 7, after one untimed.
 */
import pg from 'pg';
import { RefineryClient } from '@refinery/sdk';
import { fileURLToPath } from 'node:url';
import { adminKey, freshPostgresDatabase, referenceRecords, runFolder, startRefineryProcess, stopProcess } from './support.ts';

const cliMain = fileURLToPath(new URL('../../packages/server/src/cli.ts', import.meta.url));

export interface DashboardResult {
  items: number;
  failed: number;
  /** Median milliseconds per read, by what the dashboard reads. */
  ms: Record<string, number>;
}

const cursorAfter = (seq: string | number) => Buffer.from(JSON.stringify({ k: String(seq) })).toString('base64url');

export async function dashboardReads(options: { items?: number } = {}): Promise<DashboardResult> {
  const items = options.items ?? Number(process.env.BENCH_DASHBOARD_ITEMS ?? 1_000_000);
  const database = await freshPostgresDatabase('refinery_bench_dashboard');
  const dir = await runFolder('refinery-bench-dashboard-');
  let started: Awaited<ReturnType<typeof startRefineryProcess>> | undefined;
  const db = new pg.Client({ connectionString: database.url });
  try {
    started = await startRefineryProcess(['--max-old-space-size=192', '--import', 'tsx', cliMain], { DATABASE_URL: database.url, REFINERY_DATA_DIR: dir});
    await db.connect();
    const client = new RefineryClient({ url: started.url, apiKey: adminKey });
    const imported = await client.importRecords(referenceRecords(1, `dashboard-${Date.now()}`));
    const robot = await client.createRobot({ name: `dashboard-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
    const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
    const now = new Date().toISOString();
    await db.query(
      `insert into items (request_id, record_id, robot_id, priority, status, attempts, available_at, updated_at)
       select $1, gen_random_uuid(), $2, 1, 'new', 0, $3, $3 from generate_series(2, $4::int)`,
      [request.id, robot.id, now, items],
    );
    // What the create counts in its own statement (docs/internals/0001).
    await db.query(`update requests set total = total + $2, n_pending = n_pending + $2 where id = $1`, [request.id, items - 1]);
    // As the import leaves them: batches of 1,000 leased as spans of the request's items, which
    // completed (their items move with them without being written, docs/internals/0030 and 0034),
    // and the 1 in 10 that failed written as their own rows.
    await db.query(
      `insert into batches (id, robot_id, status, attempt, item_count, lease_token, lease_expires_at, items_key, results_key, created_at, updated_at)
       select gen_random_uuid(), $1, 'leased', 1, 1000, 'bench-' || n, $2::timestamptz + interval '1 hour', 'bench/' || n, 'bench/' || n || '.results', $2, $2
       from generate_series(0, ($3::int - 1) / 1000) n`,
      [robot.id, now, items],
    );
    await db.query(
      `with o as (select id, (row_number() over (order by id) - 1) / 1000 as k from items where request_id = $1),
         b as (select id, substr(lease_token, 7)::int as k from batches where robot_id = $2)
       insert into batch_spans (batch_id, request_id, lo, hi, n)
       select b.id, $1, min(o.id), max(o.id), count(*) from o join b using (k) group by b.id`,
      [request.id, robot.id],
    );
    await db.query(`update requests set lease_cursor = (select max(id) from items where request_id = $1) where id = $1`, [request.id]);
    await db.query(`update batches set status = 'importing', updated_at = $2 where robot_id = $1`, [robot.id, now]);
    await db.query(
      `update items i set status = 'failed', attempts = 1, batch_id = s.batch_id,
         error_code = (array['robot_error', 'rejected', 'missing', 'lease_expired', 'record_gone'])[i.id / 10 % 5 + 1],
         error_message = 'the robot could not read record ' || i.record_id, updated_at = $2
       from batch_spans s
       where i.request_id = $1 and i.id % 10 = 3 and s.request_id = $1 and i.id between s.lo and s.hi`,
      [request.id, now],
    );
    await db.query(`update batches set status = 'completed', updated_at = $2 where robot_id = $1`, [robot.id, now]);
    await db.query('vacuum analyze items');
    await db.query('vacuum analyze batches');
    const { rows } = await db.query<{ failed: number; middle: string }>(
      `select n_failed as failed, (select id::text from items where request_id = $1 order by id offset $2 limit 1) as middle from requests where id = $1`,
      [request.id, Math.floor(items / 2)],
    );
    const base = `${started.url}/v1/requests/${request.id}`;
    const reads: Record<string, string> = {
      'the request (counts)': base,
      'items, first page of 100': `${base}/items?limit=100`,
      'completed items, first page of 100': `${base}/items?status=completed&limit=100`,
      'failed items, first page of 100': `${base}/items?status=failed&limit=100`,
      'failed items, a page from the middle': `${base}/items?status=failed&limit=100&cursor=${cursorAfter(rows[0].middle)}`,
      'errors grouped by code': `${base}/errors`,
      throughput: `${base}/throughput`,
    };
    const ms: Record<string, number> = {};
    for (const [name, url] of Object.entries(reads)) {
      const times: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t = performance.now();
        const res = await fetch(url, { headers: { authorization: `Bearer ${adminKey}` } });
        const body = await res.text();
        if (!res.ok) throw new Error(`${name}: HTTP ${res.status} ${body.slice(0, 500)}`);
        if (i > 0) times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      ms[name] = times[Math.floor(times.length / 2)];
    }
    return { items, failed: rows[0].failed, ms };
  } finally {
    await db.end().catch(() => {});
    if (started) await stopProcess(started.child);
    await database.drop();
  }
}
