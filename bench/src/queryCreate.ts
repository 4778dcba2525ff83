/**
 * Requests by query (docs/queries.md): one request for every record a query matches, with
 * Refinery in a process of its own on PostgreSQL, the built command as `npm start` runs it. The records are imported
 * first (untimed): `items` references and 1,000 books. A query matching the 1,000 books is made
 * first, then `type:reference AND NOT enhancement.annotation:*`, matching every reference: for each,
 * the time to the 202 and until every item is written (the request's backlog empty), and Refinery's highest resident set (VmRSS every 100 ms) while it ran.
 * No robot works meanwhile: the items stay pending.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RefineryClient } from '@refinery/sdk';
import { adminKey, freshPostgresDatabase, procStatusKb, referenceRecords, runFolder, sleep, startRefineryProcess, stopProcess } from './support.ts';

export interface QueryCreateRun {
  query: string;
  matched: number;
  /** POST /v1/requests to its 202. */
  acceptSeconds: number;
  /** POST /v1/requests until every item is written. */
  writtenSeconds: number;
  /** Highest VmRSS sampled from the POST until every item was written, MB. */
  peakRssMb: number;
}

export interface QueryCreateResult {
  records: number;
  /** Refinery's VmRSS before the first query, MB. */
  idleRssMb: number;
  runs: [QueryCreateRun, QueryCreateRun];
}

const bin = fileURLToPath(new URL('../../packages/server/bin/refinery.mjs', import.meta.url));

export async function queryCreate(options: { records?: number } = {}): Promise<QueryCreateResult> {
  const records = options.records ?? Number(process.env.BENCH_QUERY_RECORDS ?? 1_000_000);
  const database = await freshPostgresDatabase('refinery_bench_query');
  const dir = await runFolder('refinery-bench-query-');
  let refinery: ChildProcess | undefined;
  let db: pg.Client | undefined;
  try {
    const started = await startRefineryProcess(['--max-old-space-size=192', bin], { DATABASE_URL: database.url, REFINERY_DATA_DIR: dir });
    refinery = started.child;
    const pid = refinery.pid!;
    const client = new RefineryClient({ url: started.url, apiKey: adminKey });
    const note = (what: string) => console.error(`# querycreate: ${what} (${new Date().toISOString()})`);
    await client.importRecords(referenceRecords(records, `query-${Date.now()}`));
    note(`${records} references imported`);
    await client.importRecords(
      (function* () {
        for (let i = 0; i < 1000; i++) yield { type: 'book', identifiers: [{ type: 'isbn', value: `bench-${Date.now()}-${i}` }], content: { title: `Book ${i}` } };
      })(),
    );
    const robot = await client.createRobot({ name: `query-bench-${Date.now()}`, accepts: ['reference', 'book'], produces: [{ type: 'annotation' }] });
    await sleep(2000);
    const idleRssMb = (await procStatusKb(pid, 'VmRSS')) / 1024;
    const backlog = new pg.Client({ connectionString: database.url });
    db = backlog;
    await backlog.connect();

    const run = async (query: string): Promise<QueryCreateRun> => {
      let peak = 0;
      const sampler = setInterval(() => void procStatusKb(pid, 'VmRSS').then((kb) => (peak = Math.max(peak, kb))), 100);
      try {
        const t = performance.now();
        const request = await client.createRequest({ robot_id: robot.id, query });
        const acceptSeconds = (performance.now() - t) / 1000;
        note(`${query}: 202 after ${acceptSeconds.toFixed(2)} s, ${request.matched} matched`);
        for (;;) {
          const { rows } = await backlog.query<{ n: number }>('select count(*)::int as n from item_backlog where request_id = $1::uuid', [request.id]);
          if (rows[0].n === 0) break;
          await sleep(100);
        }
        note(`${query}: every item written after ${((performance.now() - t) / 1000).toFixed(2)} s`);
        return { query, matched: request.matched ?? 0, acceptSeconds, writtenSeconds: (performance.now() - t) / 1000, peakRssMb: peak / 1024 };
      } finally {
        clearInterval(sampler);
      }
    };
    const small = await run('type:book');
    const large = await run('type:reference AND NOT enhancement.annotation:*');
    return { records, idleRssMb, runs: [small, large] };
  } finally {
    await db?.end();
    if (refinery) await stopProcess(refinery);
    await database.drop();
  }
}
