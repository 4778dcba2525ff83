/**
 * Memory: the resident set (RSS, /proc/<pid>/status) of `refinery serve` as a person runs it —
 * the built command (packages/server/bin/refinery.mjs, what `npx refinery serve` runs), with
 * Node's defaults or with `npm start`'s bound on V8's heap — embedded (PGlite and files in a new
 * data folder) and on PostgreSQL (a new database; PostgreSQL's own processes are not counted).
 * Idle: once it has started and its CPU has gone quiet, after its first start and, embedded, after
 * a restart on the data the first made. Then its peak (VmHWM, reset before) over one request of
 * `items` records: the import, the create, and 2 toy robot processes working it to its end.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { RefineryClient } from '@refinery/sdk';
import { adminKey, freshPostgresDatabase, procStatusKb, referenceRecords, runFolder, spawnToyRobot, startRefineryProcess, stopProcess, untilIdle, type Backend } from './support.ts';

const bin = fileURLToPath(new URL('../../packages/server/bin/refinery.mjs', import.meta.url));

export interface MemoryRun {
  backend: Backend;
  /** Node's flags: none (`npx refinery serve`) or npm start's heap bound. */
  nodeArgs: string[];
  items: number;
  /** RSS idle after the first start, MB; its peak while starting. */
  idleFirstStartMb: number;
  peakFirstStartMb: number;
  /** Embedded: RSS idle after a restart on the same data, MB (null on PostgreSQL). */
  idleRestartMb: number | null;
  /** Peak RSS over the request, MB: import, create, processing to the final state. */
  peakRequestMb: number;
  /** RSS idle again after the request, MB. */
  idleAfterRequestMb: number;
}

const mb = (kb: number) => kb / 1024;

async function started(nodeArgs: string[], env: NodeJS.ProcessEnv) {
  const refinery = await startRefineryProcess([...nodeArgs, bin], env);
  await untilIdle([refinery.child]);
  const pid = refinery.child.pid!;
  return { ...refinery, pid, idleMb: mb(await procStatusKb(pid, 'VmRSS')), peakMb: mb(await procStatusKb(pid, 'VmHWM')) };
}

export async function memoryRun(backend: Backend, nodeArgs: string[], items: number): Promise<MemoryRun> {
  const dir = await runFolder('refinery-bench-memory-');
  const database = backend === 'postgres' ? await freshPostgresDatabase('refinery_bench_memory') : null;
  const env = { REFINERY_DATA_DIR: dir, ...(database ? { DATABASE_URL: database.url } : {}) };
  const robots: ChildProcess[] = [];
  let refinery: Awaited<ReturnType<typeof started>> | undefined;
  try {
    refinery = await started(nodeArgs, env);
    const first = refinery;
    let idleRestartMb: number | null = null;
    if (!database) {
      await stopProcess(refinery.child);
      refinery = await started(nodeArgs, env);
      idleRestartMb = refinery.idleMb;
    }
    // Resets VmHWM to the present RSS, so that it reads the request's peak.
    await writeFile(`/proc/${refinery.pid}/clear_refs`, '5');
    const client = new RefineryClient({ url: refinery.url, apiKey: adminKey });
    const imported = await client.importRecords(referenceRecords(items, `memory-${Date.now()}`));
    const robot = await client.createRobot({ name: `toy-memory-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
    for (let i = 0; i < 2; i++) robots.push(spawnToyRobot(refinery.url, robot, 1000));
    const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
    const done = await client.waitForRequest(request.id, { intervalMs: 200 });
    if (done.counts.completed !== items) throw new Error(`the memory run's request ended ${done.status} with ${done.counts.completed} of ${items} items completed`);
    const peakRequestMb = mb(await procStatusKb(refinery.pid, 'VmHWM'));
    await untilIdle([refinery.child]);
    return {
      backend,
      nodeArgs,
      items,
      idleFirstStartMb: first.idleMb,
      peakFirstStartMb: first.peakMb,
      idleRestartMb,
      peakRequestMb,
      idleAfterRequestMb: mb(await procStatusKb(refinery.pid, 'VmRSS')),
    };
  } finally {
    await Promise.all(robots.map(stopProcess));
    if (refinery) await stopProcess(refinery.child);
    await database?.drop();
  }
}

/** The bound `npm start` puts on V8's heap (its script in package.json). */
function npmStartHeapBound(): string {
  const { scripts } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const flag = /--max-old-space-size=\d+/.exec(scripts.start)?.[0];
  if (!flag) throw new Error(`npm start's script bounds no heap: ${scripts.start}`);
  return flag;
}

/** Each backend, run as `npx refinery serve` runs (Node's defaults) and with `npm start`'s heap bound. */
export async function memory(items = Number(process.env.BENCH_MEMORY_ITEMS ?? 100_000)): Promise<MemoryRun[]> {
  const runs: MemoryRun[] = [];
  for (const backend of ['pglite', 'postgres'] as const) for (const nodeArgs of [[], [npmStartHeapBound()]]) runs.push(await memoryRun(backend, nodeArgs, items));
  return runs;
}
