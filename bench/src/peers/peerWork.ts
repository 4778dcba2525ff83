/**
 * What the peer measurements share: the Refinery-shaped tables the peers work on, the work one
 * job does (read its records, make the toy enhancement, insert set-based, mark the items done),
 * and the worker processes (spawned like Refinery's robot processes, reporting over IPC).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { contentHash } from '@refinery/protocol';
import { toyAnnotation, toyRobotVersion } from '../../../examples/toy-robot/src/robot.ts';

/**
 * In a database migrated with Refinery's schema (its records and enhancements tables, keys and
 * foreign key as they are), creates the peers' own item table `peer_items` (one per record, with a
 * status) and loads `items` records and items with one bulk insert each. Not timed.
 */
export async function preparePeerTables(url: string, items: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      create table peer_items (
        id bigint generated always as identity primary key,
        record_id uuid not null,
        status text not null default 'pending' check (status in ('pending', 'done')),
        enhancement_id uuid,
        updated_at timestamptz not null default now()
      )`);
    await client.query(
      `insert into records (id, type, identifiers, content, created_at, updated_at)
       select gen_random_uuid(), 'reference',
              jsonb_build_array(jsonb_build_object('type', 'doi', 'value', '10.5555/peer/' || g)),
              jsonb_build_object('title', 'Reference ' || g, 'year', 1990 + g % 35), now(), now()
       from generate_series(0, $1::int - 1) g`,
      [items],
    );
    await client.query(`insert into peer_items (record_id) select id from records order by created_at, id`);
    for (const table of ['records', 'peer_items', 'enhancements']) await client.query(`vacuum analyze ${table}`);
  } finally {
    await client.end();
  }
}

/** How many items are done, and how many enhancements there are (checked after the clock stops). */
export async function countDone(url: string): Promise<{ done: number; enhancements: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select (select count(*) from peer_items where status = 'done')::int as done, (select count(*) from enhancements)::int as enhancements`,
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

/** Not support.ts's: importing that loads the whole server into every worker process. */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const robotId = '00000000-0000-4000-8000-000000000001';
const requestId = '00000000-0000-4000-8000-000000000002';

/**
 * One job's work on items `from`..`to` (inclusive): read the items' records, make the toy
 * annotation of each (content hash: SHA-256 of canonical JSON), insert the enhancements
 * set-based and mark the items done, in one statement (both statements prepared). Returns how many items it marked done.
 */
export async function enhanceItems(pool: pg.Pool, from: number, to: number): Promise<number> {
  const { rows } = await pool.query({
    name: 'peer-read-items',
    text: `select i.id::text as item_id, r.id, r.type, r.identifiers, r.content
     from peer_items i join records r on r.id = i.record_id
     where i.id between $1 and $2 and i.status = 'pending'`,
    values: [from, to],
  });
  if (rows.length === 0) return 0;
  const itemIds: string[] = [];
  const enhancementIds: string[] = [];
  const recordIds: string[] = [];
  const contents: string[] = [];
  const hashes: string[] = [];
  for (const row of rows) {
    const out = toyAnnotation({ id: row.id, type: row.type, identifiers: row.identifiers, content: row.content, enhancements: [] });
    itemIds.push(row.item_id);
    enhancementIds.push(randomUUID());
    recordIds.push(row.id);
    contents.push(JSON.stringify(out.content));
    hashes.push(contentHash(out.content));
  }
  const result = await pool.query({
    name: 'peer-write-enhancements',
    text: `with inserted as (
       insert into enhancements (id, record_id, robot_id, request_id, batch_id, type, content, content_hash, robot_version, created_at)
       select e.id, e.record_id, $1, $2, $3, 'annotation', e.content::jsonb, e.content_hash, $4, now()
       from unnest($5::uuid[], $6::uuid[], $7::text[], $8::text[]) as e(id, record_id, content, content_hash)
       on conflict (record_id, type, content_hash) do nothing
     )
     update peer_items i set status = 'done', enhancement_id = u.enhancement_id, updated_at = now()
     from unnest($9::bigint[], $5::uuid[]) as u(item_id, enhancement_id)
     where i.id = u.item_id`,
    values: [robotId, requestId, randomUUID(), toyRobotVersion, enhancementIds, recordIds, contents, hashes, itemIds],
  });
  return result.rowCount ?? 0;
}

/** Messages a peer worker process sends its parent. */
export type WorkerMessage = { t: 'ready' } | { t: 'done'; n: number } | { t: 'started'; i: number; at: number } | { t: 'completed'; i: number };

/** Process-side: counts items done and reports them to the parent every few milliseconds. */
export function doneReporter(): { add(n: number): void } {
  let pending = 0;
  setInterval(() => {
    if (pending > 0) {
      process.send?.({ t: 'done', n: pending } satisfies WorkerMessage);
      pending = 0;
    }
  }, 10).unref();
  return {
    add(n) {
      pending += n;
    },
  };
}

/** Milliseconds on a clock shared by the processes of this machine. */
export const wallClock = () => performance.timeOrigin + performance.now();

export interface PeerWorkers {
  children: ChildProcess[];
  /** Items done so far, summed over the processes. */
  done(): number;
  onMessage(listener: (message: WorkerMessage) => void): void;
  /** Resolves when the processes have reported `items` done, or rejects after `timeoutMs`. */
  waitForDone(items: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Spawns `count` worker processes running `script` with `config` (JSON in PEER_CONFIG), and waits until each is ready. */
export async function spawnPeerWorkers(script: URL, count: number, config: object): Promise<PeerWorkers> {
  let done = 0;
  const listeners: Array<(m: WorkerMessage) => void> = [];
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(script)], {
      env: { ...process.env, PEER_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ready = children.map(
    (child) =>
      new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`peer worker exited with ${code} before it was ready`)));
        child.on('message', (m: WorkerMessage) => {
          if (m.t === 'ready') resolve();
          else if (m.t === 'done') done += m.n;
          for (const l of listeners) l(m);
        });
      }),
  );
  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }),
    );
  };
  try {
    await Promise.all(ready);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    children,
    done: () => done,
    onMessage: (l) => listeners.push(l),
    async waitForDone(items, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (done < items) {
        if (performance.now() > deadline) throw new Error(`timed out: ${done} of ${items} items done`);
        if (children.some((c) => c.exitCode !== null)) throw new Error('a peer worker exited');
        await sleep(5);
      }
    },
    stop,
  };
}

/** Waits until `query` (a count) returns 0, polling every few milliseconds. */
export async function waitForZero(pool: pg.Pool, query: string, params: unknown[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query(query, params);
    if (Number(rows[0].n) === 0) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for the queue to drain (${rows[0].n} left)`);
    await sleep(10);
  }
}
