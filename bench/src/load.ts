/**
 * Load held: `refinery serve` (the built command, in a process of its own) with 200 robots, each
 * its own identity, waiting in real HTTP long polls from 4 host processes (loadRobots.ts), while
 * 50 requesters in 2 processes (loadRequesters.ts) create small requests (1 to 10 records, for a
 * robot picked at random) one after another for BENCH_LOAD_SECONDS (default 180). The robots work
 * what they are given. Every call is made once: any answer that is not 2xx, and any exception,
 * is an error.
 * Reports: errors (clients, and error lines Refinery logged); the create's round trip p50 / p99;
 * Refinery's RSS once the robots wait (start), every 15 s and at its peak under load, and once
 * everything is idle again with the robots gone (end); the CPU Refinery and its PostgreSQL backends use while the
 * 200 robots only wait; and, on PostgreSQL, the database's connections once every client has
 * stopped (pg_stat_activity), where any connection `idle in transaction` or `active`, or more
 * than the server's pool and its LISTEN connection, is left over; then none once Refinery stopped.
 */
import { fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RefineryClient } from '@refinery/sdk';
import { procCpuSeconds } from './cpuTime.ts';
import type { RequesterHostStats } from './loadRequesters.ts';
import type { RobotHostStats } from './loadRobots.ts';
import { adminKey, freshPostgresDatabase, percentile, procStatusKb, referenceRecords, runFolder, sleep, startRefineryProcess, stopProcess, untilIdle, type Backend } from './support.ts';

const bin = fileURLToPath(new URL('../../packages/server/bin/refinery.mjs', import.meta.url));
const robotHostMain = fileURLToPath(new URL('./loadRobots.ts', import.meta.url));
const requesterHostMain = fileURLToPath(new URL('./loadRequesters.ts', import.meta.url));

/** Connections one Refinery process may hold: its pools (openPostgres's default of 20) and its LISTEN connection. */
const serverConnectionsMax = 21;

export interface LoadResult {
  backend: Backend;
  seconds: number;
  robots: number;
  requesters: number;
  creates: number;
  createsPerSecond: number;
  createP50Ms: number;
  createP99Ms: number;
  /** Batches and items the robots worked. */
  batches: number;
  items: number;
  /** Client errors (non-2xx answers and exceptions), robots' and requesters'; and error lines Refinery logged. */
  errors: number;
  serverErrorLines: number;
  errorSamples: string[];
  /** Requests still open once the robots had the time to finish them (60 s at most), and their items by status then (Refinery's /metrics). */
  openRequestsAfter: number;
  openItemsAfter: Record<string, number>;
  /** From Refinery's /metrics at the end: leases that lapsed, items given back for another attempt. */
  leaseExpiries: number;
  itemsRetried: number;
  /** CPU (share of one core) while the robots only wait: Refinery's process, its PostgreSQL backends. */
  idleCpu: { refinery: number; postgresql: number | null };
  rssStartMb: number;
  rssPeakMb: number;
  /** RSS every 15 s under load, MB. */
  rssDuringMb: number[];
  rssEndMb: number;
  /** PostgreSQL: the database's connections by state once every client stopped; how many of them are left over; and any after Refinery stopped. */
  connectionsAtEnd: Record<string, number> | null;
  leftoverConnections: number | null;
  connectionsAfterServerStop: number | null;
}

/** A child process under tsx, and its next message of a kind. */
function host(main: string, env: Record<string, string>) {
  const child = fork(main, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const message = <T>(key: string, timeoutMs = 120_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load: no ${key} from ${main} within ${timeoutMs / 1000} s`)), timeoutMs);
      const on = (m: Record<string, unknown>) => {
        if (!(key in m)) return;
        clearTimeout(timer);
        child.off('message', on);
        resolve(m[key] as T);
      };
      child.on('message', on);
    });
  return { child, message };
}

/** The database's connections by state (`active`, `idle`, `idle in transaction`…), this one not counted, and their backends' pids. */
async function connections(url: string): Promise<{ byState: Record<string, number>; pids: number[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; state: string | null }>(
      `select pid, state from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
    );
    const byState: Record<string, number> = {};
    for (const r of rows) byState[r.state ?? 'none'] = (byState[r.state ?? 'none'] ?? 0) + 1;
    return { byState, pids: rows.map((r) => r.pid) };
  } finally {
    await client.end();
  }
}

const mb = (kb: number) => kb / 1024;

export async function load(backend: Backend, options: { seconds?: number; robots?: number; requesters?: number } = {}): Promise<LoadResult> {
  const seconds = options.seconds ?? Number(process.env.BENCH_LOAD_SECONDS ?? 180);
  const robotCount = options.robots ?? 200;
  const requesterCount = options.requesters ?? 50;
  const robotHosts = 4;
  const requesterHosts = 2;
  const dir = await runFolder('refinery-bench-load-');
  const database = backend === 'postgres' ? await freshPostgresDatabase('refinery_bench_load') : null;
  const env = { REFINERY_DATA_DIR: dir, ...(database ? { DATABASE_URL: database.url } : {}) };
  const hosts: Array<ReturnType<typeof host>> = [];
  let server: Awaited<ReturnType<typeof startRefineryProcess>> | undefined;
  try {
    server = await startRefineryProcess([...(process.env.BENCH_LOAD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), bin], env);
    const pid = server.child.pid!;
    let serverErrorLines = 0;
    const errorSamples: string[] = [];
    server.child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!/"level":(50|60)/.test(line)) continue;
        serverErrorLines++;
        if (errorSamples.length < 10) errorSamples.push(`refinery: ${line.slice(0, 300)}`);
      }
    });
    const client = new RefineryClient({ url: server.url, apiKey: adminKey });
    const imported = await client.importRecords(referenceRecords(5000, `load-${Date.now()}`));
    const robots: Array<{ id: string; secret: string }> = [];
    for (let i = 0; i < robotCount; i++) {
      const r = await client.createRobot({ name: `load-${i}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
      robots.push({ id: r.id, secret: r.secret });
    }

    // The robots, in their long polls.
    for (let h = 0; h < robotHosts; h++) {
      const robotHost = host(robotHostMain, { REFINERY_URL: server.url });
      hosts.push(robotHost);
      const started = robotHost.message('started');
      robotHost.child.send({ robots: robots.filter((_, i) => i % robotHosts === h) });
      await started;
    }
    const robotProcesses = hosts.map((h) => h.child);
    await untilIdle(robotProcesses);
    await sleep(2000);
    const rssStartKb = await procStatusKb(pid, 'VmRSS');

    // What waiting costs: CPU over 10 s with every robot in its long poll and nothing to do.
    const backendPids = database ? (await connections(database.url)).pids : [];
    const cpu = async () => ({ refinery: await procCpuSeconds(pid), postgresql: (await Promise.all(backendPids.map(procCpuSeconds))).reduce((a, b) => a + b, 0) });
    const idleBefore = await cpu();
    const idleT = performance.now();
    await sleep(10_000);
    const idleAfter = await cpu();
    const idleS = (performance.now() - idleT) / 1000;
    const idleCpu = { refinery: (idleAfter.refinery - idleBefore.refinery) / idleS, postgresql: database ? (idleAfter.postgresql - idleBefore.postgresql) / idleS : null };

    // The load.
    // Resets VmHWM to the present RSS, so that it reads the load's peak.
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    const requesters: Array<ReturnType<typeof host>> = [];
    for (let h = 0; h < requesterHosts; h++) {
      const requesterHost = host(requesterHostMain, { REFINERY_URL: server.url, API_KEY: adminKey });
      requesters.push(requesterHost);
      hosts.push(requesterHost);
    }
    // Started (tsx takes seconds of CPU) before the clock starts.
    await Promise.all(requesters.map((h) => h.message('ready')));
    await untilIdle(requesters.map((h) => h.child));
    const loadT = performance.now();
    for (let h = 0; h < requesterHosts; h++) {
      requesters[h].child.send({ work: { requesters: Math.ceil(requesterCount / requesterHosts), robotIds: robots.map((r) => r.id), recordIds: imported.ids } });
    }
    const rssDuringMb: number[] = [];
    const sampling = setInterval(() => void procStatusKb(pid, 'VmRSS').then((kb) => rssDuringMb.push(Math.round(mb(kb)))), 15_000);
    await sleep(seconds * 1000);
    clearInterval(sampling);
    const requesterStats = await Promise.all(
      requesters.map((h) => {
        const stats = h.message<RequesterHostStats>('stats');
        h.child.send({ stop: true });
        return stats;
      }),
    );
    const loadS = (performance.now() - loadT) / 1000;
    const rssPeakKb = await procStatusKb(pid, 'VmHWM');

    // The robots finish what was asked.
    let openRequestsAfter = 0;
    const finishBy = Date.now() + 60_000;
    for (;;) {
      const open = await Promise.all((['received', 'processing'] as const).map((status) => client.listRequests({ status, limit: 1000 })));
      openRequestsAfter = open.reduce((n, page) => n + page.data.length, 0);
      if (openRequestsAfter === 0 || Date.now() > finishBy) break;
      await sleep(500);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const sum = (name: string) => [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    const openItemsAfter = Object.fromEntries([...metrics.matchAll(/^refinery_items\{status="(\w+)"\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]));
    const robotStats = await Promise.all(
      hosts
        .filter((h) => !requesters.includes(h))
        .map((h) => {
          const stats = h.message<RobotHostStats>('stats');
          h.child.send({ stop: true });
          return stats;
        }),
    );
    for (const h of hosts) h.child.disconnect();
    await Promise.all(hosts.map((h) => (h.child.exitCode !== null ? null : new Promise((r) => h.child.once('exit', r)))));
    hosts.length = 0;
    await untilIdle([server.child]);
    await sleep(2000);
    const rssEndKb = await procStatusKb(pid, 'VmRSS');

    let connectionsAtEnd: Record<string, number> | null = null;
    let leftoverConnections: number | null = null;
    let connectionsAfterServerStop: number | null = null;
    if (database) {
      connectionsAtEnd = (await connections(database.url)).byState;
      const total = Object.values(connectionsAtEnd).reduce((a, b) => a + b, 0);
      const busy = Object.entries(connectionsAtEnd)
        .filter(([state]) => state !== 'idle')
        .reduce((n, [, count]) => n + count, 0);
      leftoverConnections = Math.max(busy, total - serverConnectionsMax, 0);
    }
    await stopProcess(server.child);
    if (database) connectionsAfterServerStop = Object.values((await connections(database.url)).byState).reduce((a, b) => a + b, 0);

    const latencies = requesterStats.flatMap((s) => s.latenciesMs);
    const creates = requesterStats.reduce((n, s) => n + s.creates, 0);
    return {
      backend,
      seconds: loadS,
      robots: robotCount,
      requesters: requesterCount,
      creates,
      createsPerSecond: creates / loadS,
      createP50Ms: percentile(latencies, 50),
      createP99Ms: percentile(latencies, 99),
      batches: robotStats.reduce((n, s) => n + s.batches, 0),
      items: robotStats.reduce((n, s) => n + s.items, 0),
      errors: [...requesterStats, ...robotStats].reduce((n, s) => n + s.errors, 0),
      serverErrorLines,
      errorSamples: [...[...requesterStats, ...robotStats].flatMap((s) => s.errorSamples), ...errorSamples].slice(0, 10),
      openRequestsAfter,
      openItemsAfter,
      leaseExpiries: sum('refinery_lease_expiries_total'),
      itemsRetried: sum('refinery_items_retried_total'),
      idleCpu,
      rssStartMb: mb(rssStartKb),
      rssPeakMb: mb(rssPeakKb),
      rssDuringMb,
      rssEndMb: mb(rssEndKb),
      connectionsAtEnd,
      leftoverConnections,
      connectionsAfterServerStop,
    };
  } finally {
    for (const h of hosts) if (h.child.connected) h.child.disconnect();
    await Promise.all(hosts.map((h) => (h.child.exitCode !== null ? null : new Promise((r) => h.child.once('exit', r)))));
    if (server) await stopProcess(server.child);
    await database?.drop();
  }
}
