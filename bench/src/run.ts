/**
 * npm run bench: Refinery against its peers and the machine's limits, through real HTTP, on
 * PostgreSQL (DATABASE_URL, the local one by default) and PGlite. Prints one table (markdown);
 * every figure comes from this run. Takes about 17 minutes on a 2-core machine.
 *
 * BENCH_ONLY: a comma list of sections (e2e, destiny, many, peers, floors, latency, scale, small, memory, encryption, load, metrics, baseline, querycreate, automation, dashboard); all by default.
 *   `baseline`: before and after in one run (baseline.ts): the end-to-end run on
 *   BENCH_BASELINE_BACKEND (postgres, the default, or pglite) of this checkout and of the commit
 *   BENCH_BASELINE (default 2157035, the last before the work on packaging, stalls and
 *   encryption), alternating for BENCH_BASELINE_ROUNDS (default 3) rounds.
 *   `metrics`: GET /metrics with BENCH_METRICS_ROBOTS (default 100) robots, each with pending requests, on BENCH_BACKENDS.
 * BENCH_TRACING=1: the Refinery under test exports its spans over OTLP to a sink in this process
 *   (tracingSink.ts), to measure what tracing costs; off by default, as in production without
 *   OTEL_EXPORTER_OTLP_ENDPOINT.
 *   `querycreate`: a request by query matching BENCH_QUERY_RECORDS (default 1,000,000) records, and one matching 1,000 (queryCreate.ts).
 *   `automation`: an automation's latency from an import's commit to its request's lease (automation.ts), with
 *   BENCH_AUTOMATION_WINDOW (default 0.2 s) and with the default window of 5 s.
 *   `encryption`: requests of a record type that is not encrypted and of one that is (encryption.ts), on
 *   BENCH_BACKENDS' first; BENCH_CRYPT_RECORDS (default 20,000) records a request, BENCH_CRYPT_ROUNDS (default 3) rounds.
 *   `destiny`: the end-to-end run with robots speaking DESTINY's protocol (docs/destiny.md); with
 *   `e2e`, each of its runs right after the native run of the same round, and compared with it.
 * BENCH_BACKENDS: the end-to-end backends (postgres, pglite); both by default.
 * BENCH_PROFILE=1: database time by query file, CPU time by process and the dispatch latency's timeline step by step, on stderr.
 * BENCH_CPU_PROF (cpuProfile.ts): Refinery's process over each end-to-end run's measured part, its CPU by thread and GC pauses on
 *   stderr, and `dir` a V8 CPU profile, `perf:dir` a perf record, `alloc:dir` a heap allocation profile, `threads` nothing more.
 * BENCH_E2E_RUNS (default 3): end-to-end runs per backend; the table shows the median run and all of them.
 *   Each PostgreSQL run is a round with the peers' (a) and the floors measured right after it (when
 *   those sections run): their ratios are the median of the rounds' own. These runs also read
 *   PostgreSQL's own counters on their database (pgCounters.ts: rows written, WAL, CPU per item),
 *   which adds 22 s of waiting to each.
 * BENCH_RECORDS (default 100,000), ROBOTS (default 4), BENCH_SCALE_ITEMS (default 1,000,000),
 * BENCH_SMALL_BATCHES (default 10,000), BENCH_SMALL_MAX_SECONDS (default 150), BENCH_MEMORY_ITEMS (default 100,000).
 * `load`: 200 robots in long polls and 50 requesters for BENCH_LOAD_SECONDS (default 180), on
 * BENCH_LOAD_BACKENDS (default postgres; pglite too when named); BENCH_LOAD_NODE_ARGS, Node flags for
 * the Refinery under test (`--cpu-prof`, `--heapsnapshot-signal=SIGUSR2`).
 * REFINERY_CREATE_SLICE is handed to the Refinery under test (docs/large-requests.md), to compare a
 * create written whole (1000000) with the default.
 */
import { cpus } from 'node:os';
import { baseline, type BaselineResult } from './baseline.ts';
import { automationLatency, type AutomationLatencyResult } from './automation.ts';
import { dispatchLatency, type DispatchLatencyResult } from './dispatchLatency.ts';
import { encryptionCost, type EncryptionResult } from './encryption.ts';
import { endToEnd, type EndToEndResult } from './endToEnd.ts';
import { dashboardReads, type DashboardResult } from './dashboard.ts';
import { floors, type FloorsResult } from './floors.ts';
import { load, type LoadResult } from './load.ts';
import { manyRequests, type ManyRequestsResult } from './manyRequests.ts';
import { memory, type MemoryRun } from './memory.ts';
import { metricsScrape, type MetricsScrapeResult } from './metricsScrape.ts';
import { startTracingSink } from './tracingSink.ts';
import { queryCreate, type QueryCreateResult } from './queryCreate.ts';
import type { PgCounts } from './pgCounters.ts';
import { graphileWorkerLatency, graphileWorkerThroughput, type LatencyResult, type PeerThroughputResult } from './peers/graphileWorker.ts';
import { pgBossThroughput } from './peers/pgBoss.ts';
import { scale, type ScaleResult } from './scale.ts';
import { smallBatches, type SmallBatchesResult } from './smallBatches.ts';
import { fmt, percentile, type Backend } from './support.ts';

const records = Number(process.env.BENCH_RECORDS ?? 100_000);
const robots = Number(process.env.ROBOTS ?? 4);
const batchSize = 1000;
const only = new Set((process.env.BENCH_ONLY ?? 'e2e,destiny,many,peers,floors,latency,scale,small,memory,encryption,load,metrics,baseline,querycreate,automation,dashboard').split(','));
const tracingSink = process.env.BENCH_TRACING === '1' ? await startTracingSink() : null;
/** The many-requests section: the end-to-end records as this many requests. */
const manyRequestCount = 1000;

async function section<T>(name: string, work: () => Promise<T>): Promise<T | null> {
  if (!only.has(name)) return null;
  const t = performance.now();
  const result = await work();
  // Each section's figures as soon as they are in, so a long run cut short keeps what it measured.
  console.error(`# ${name}: ${fmt((performance.now() - t) / 1000, 1)} s ${JSON.stringify(result)}`);
  return result;
}

const backends = (process.env.BENCH_BACKENDS ?? 'postgres,pglite').split(',') as Backend[];
const e2eRuns = Number(process.env.BENCH_E2E_RUNS ?? 3);
/** A backend's median run, and the items per second of every run (single runs spread widely on a 2-core machine). */
type EndToEndFigure = EndToEndResult & { runs: number[] };
const medianRun = (runs: EndToEndResult[]): EndToEndFigure => {
  const sorted = [...runs].sort((a, b) => a.itemsPerSecond - b.itemsPerSecond);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], runs: runs.map((r) => Math.round(r.itemsPerSecond)) };
};
/**
 * One end-to-end run on PostgreSQL and, right after it, what it is compared with: the peers' (a)
 * and the floors, when those sections run. This machine's speed drifts by half within a run, so
 * each ratio is taken within a round and the table shows the median of the rounds' ratios.
 */
interface Round {
  refinery: EndToEndResult;
  graphileA?: PeerThroughputResult;
  pgBossA?: PeerThroughputResult;
  floor?: FloorsResult;
}
const rounds: Round[] = [];
/** Each backend's end-to-end runs with DESTINY robots, each paired with the native run before it when both sections run. */
const destinyRounds = new Map<Backend, Array<{ destiny: EndToEndResult; native?: EndToEndResult }>>(backends.map((b) => [b, []]));
const destinyRun = (backend: Backend) => endToEnd(backend, { records, robots, batchSize, protocol: 'destiny' });
const e2e = await section('e2e', async () => {
  const results: EndToEndFigure[] = [];
  for (const backend of backends) {
    const runs: EndToEndResult[] = [];
    for (let i = 0; i < e2eRuns; i++) {
      const refinery = await endToEnd(backend, { records, robots, batchSize, pgCounts: true });
      runs.push(refinery);
      if (only.has('destiny')) destinyRounds.get(backend)!.push({ native: refinery, destiny: await destinyRun(backend) });
      if (backend !== 'postgres') continue;
      const round: Round = { refinery };
      if (only.has('peers')) {
        round.graphileA = await graphileWorkerThroughput({ items: records, jobSize: 1000, pgCounts: true });
        round.pgBossA = await pgBossThroughput({ items: records, jobSize: 1000, pgCounts: true });
      }
      if (only.has('floors')) round.floor = await floors({ rows: records });
      rounds.push(round);
    }
    results.push(medianRun(runs));
  }
  return results;
});
const destinyE2e = await section('destiny', async () => {
  const results: Array<EndToEndFigure & { ratios: number[] }> = [];
  for (const backend of backends) {
    const paired = destinyRounds.get(backend)!;
    if (paired.length === 0) for (let i = 0; i < e2eRuns; i++) paired.push({ destiny: await destinyRun(backend) });
    const ratios = paired.filter((p) => p.native).map((p) => p.destiny.itemsPerSecond / p.native!.itemsPerSecond);
    results.push({ ...medianRun(paired.map((p) => p.destiny)), ratios });
  }
  return results;
});
const many = await section('many', () => manyRequests('postgres', { records, requests: manyRequestCount, robots, batchSize }));
// The rounds' own peer and floor runs (their seconds and counts), as each section logs its results.
if (rounds.some((x) => x.graphileA || x.floor)) console.error(`# rounds: ${JSON.stringify(rounds.map(({ graphileA, pgBossA, floor }) => ({ graphileA, pgBossA, floor })))}`);
const peers = await section('peers', async () => ({
  // Measured in the rounds beside Refinery's runs; alone only without them.
  graphileA: rounds.length > 0 ? null : await graphileWorkerThroughput({ items: records, jobSize: 1000 }),
  pgBossA: rounds.length > 0 ? null : await pgBossThroughput({ items: records, jobSize: 1000 }),
  graphileB: await graphileWorkerThroughput({ items: records, jobSize: 1 }),
  pgBossB: await pgBossThroughput({ items: records, jobSize: 1 }),
}));
const floor = await section('floors', async () => (rounds.length > 0 ? null : floors({ rows: records })));
/** The dispatches after a pause, for both: everything on the path runs slower after the machine idled. */
const idleMs = 20;
const latency = await section('latency', async () => ({
  refinery: await dispatchLatency('postgres', { requests: 500 }),
  graphile: await graphileWorkerLatency({ jobs: 500 }),
  refineryAfterIdle: await dispatchLatency('postgres', { requests: 500, idleMs }),
  graphileAfterIdle: await graphileWorkerLatency({ jobs: 500, idleMs }),
}));
const scaled = await section('scale', () => scale());
const small = await section('small', () =>
  smallBatches({ batches: Number(process.env.BENCH_SMALL_BATCHES ?? 10_000), maxSeconds: Number(process.env.BENCH_SMALL_MAX_SECONDS ?? 150) }),
);
const memoryRuns = await section('memory', () => memory());
const encryption = await section('encryption', () =>
  encryptionCost(backends[0], { records: Number(process.env.BENCH_CRYPT_RECORDS ?? 20_000), robots, batchSize, rounds: Number(process.env.BENCH_CRYPT_ROUNDS ?? 3) }),
);

const loadRuns = await section('load', async () => {
  const runs: LoadResult[] = [];
  for (const backend of (process.env.BENCH_LOAD_BACKENDS ?? 'postgres').split(',') as Backend[]) runs.push(await load(backend));
  return runs;
});

const before = await section('baseline', () =>
  baseline({ ref: process.env.BENCH_BASELINE ?? '2157035', backend: (process.env.BENCH_BASELINE_BACKEND ?? 'postgres') as Backend, rounds: Number(process.env.BENCH_BASELINE_ROUNDS ?? 3), records }),
);

const scrapes = await section('metrics', async () => {
  const runs: MetricsScrapeResult[] = [];
  for (const backend of backends) runs.push(await metricsScrape(backend, { robots: Number(process.env.BENCH_METRICS_ROBOTS ?? 100), itemsPerRobot: 20, scrapes: 50 }));
  return runs;
});

const queried = await section('querycreate', () => queryCreate());

/** Automation latency (automation.ts): a short window, 40 rounds, and the default window, 10 rounds, on BENCH_BACKENDS' first. */
const automation = await section('automation', async () => [
  await automationLatency(backends[0], { windowSeconds: Number(process.env.BENCH_AUTOMATION_WINDOW ?? 0.2), rounds: 40 }),
  await automationLatency(backends[0], { windowSeconds: 5, rounds: 10 }),
]);

const dashboard = await section('dashboard', () => dashboardReads());

printTable({ e2e, destinyE2e, many, peers, floor, latency, scaled, small, memoryRuns, encryption, loadRuns, scrapes, before, queried, automation, dashboard });
if (tracingSink) {
  console.log(`\nBENCH_TRACING=1: ${fmt(tracingSink.spans())} spans exported to the sink in ${fmt(tracingSink.posts())} OTLP posts`);
  await tracingSink.close();
}

function per100k(seconds: number, items: number): number {
  return (seconds * 100_000) / items;
}

/** CPU seconds per 100,000 items of an end-to-end run, all processes together. */
function refineryCpu(e: EndToEndResult): number {
  return per100k(e.cpuSeconds.postgresql + e.cpuSeconds.refinery + e.cpuSeconds.robots, e.records);
}

function peerCpu(p: PeerThroughputResult): number {
  return per100k(p.cpuSeconds.postgresql + p.cpuSeconds.workers + p.cpuSeconds.enqueuing, p.items);
}

function printTable(r: {
  e2e: EndToEndFigure[] | null;
  destinyE2e: Array<EndToEndFigure & { ratios: number[] }> | null;
  many: ManyRequestsResult | null;
  peers: { graphileA: PeerThroughputResult | null; pgBossA: PeerThroughputResult | null; graphileB: PeerThroughputResult; pgBossB: PeerThroughputResult } | null;
  floor: FloorsResult | null;
  latency: { refinery: DispatchLatencyResult; graphile: LatencyResult; refineryAfterIdle: DispatchLatencyResult; graphileAfterIdle: LatencyResult } | null;
  scaled: ScaleResult | null;
  small: SmallBatchesResult | null;
  memoryRuns: MemoryRun[] | null;
  encryption: EncryptionResult | null;
  loadRuns: LoadResult[] | null;
  before: BaselineResult | null;
  scrapes: MetricsScrapeResult[] | null;
  queried: QueryCreateResult | null;
  automation: AutomationLatencyResult[] | null;
  dashboard: DashboardResult | null;
}): void {
  const ratio = (a: number, b: number) => `${fmt(a / b, 2)}x`;
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const lines: string[] = [];
  const row = (...cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
  lines.push(`Refinery benchmark, ${new Date().toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, PostgreSQL defaults`);
  lines.push('');
  row('measure', 'figure', 'against', 'ratio', 'target');
  row('---', '---:', '---', '---:', '---');
  const pg = r.e2e?.find((e) => e.backend === 'postgres');
  const lite = r.e2e?.find((e) => e.backend === 'pglite');
  const runsOf = (e: EndToEndFigure) => (e.runs.length > 1 ? `median of ${e.runs.length} runs: ${e.runs.map((x) => fmt(x)).join(', ')}` : '');
  const cpuOf = (e: EndToEndFigure) => {
    const per = (s: number) => fmt(per100k(s, e.records), 1);
    return `${e.backend === 'postgres' ? `PostgreSQL ${per(e.cpuSeconds.postgresql)}, ` : ''}Refinery ${per(e.cpuSeconds.refinery)}, robots ${per(e.cpuSeconds.robots)}`;
  };
  if (pg) {
    row(`end to end, PostgreSQL: ${fmt(pg.records)} items, ${robots} robot processes, batches of ${batchSize}`, `${fmt(pg.itemsPerSecond)} items/s`, runsOf(pg), '', '');
    row(`end to end, PostgreSQL: CPU seconds per 100,000 items (median run)`, cpuOf(pg), `${fmt(pg.endToEndSeconds, 1)} s on ${cpus().length} cores`, '', '');
  }
  for (const d of r.destinyE2e ?? []) {
    const native = r.e2e?.find((e) => e.backend === d.backend);
    const name = d.backend === 'postgres' ? 'PostgreSQL' : 'PGlite';
    // The median of the rounds' own ratios (each DESTINY run right after its native run), else the medians'.
    const ratio = d.ratios.length > 0 ? percentile(d.ratios, 50) : native ? d.itemsPerSecond / native.itemsPerSecond : null;
    row(
      `end to end with DESTINY robots, ${name}: the same, the robots speaking DESTINY's protocol (destinyRobot.ts)`,
      `${fmt(d.itemsPerSecond)} items/s`,
      `${native ? `native robots (median run): ${fmt(native.itemsPerSecond)}/s` : 'native robots'}${d.ratios.length > 1 ? `; each round: ${d.ratios.map((x) => `${fmt(x, 2)}x`).join(', ')}` : ''}${runsOf(d) ? `; ${runsOf(d)}` : ''}`,
      ratio === null ? '' : `${fmt(ratio, 2)}x`,
      ratio === null ? '' : `≥ 0.90x: ${verdict(ratio >= 0.9)}`,
    );
  }
  if (r.many) {
    const m = r.many;
    row(
      `many requests, PostgreSQL: the same ${fmt(m.records)} items as ${fmt(m.requests)} requests of ${fmt(m.records / m.requests)}, created ${m.requesters} at a time`,
      `${fmt(m.itemsPerSecond)} items/s`,
      `one request${pg ? ` (median run): ${fmt(pg.itemsPerSecond)}/s` : ''}; the ${fmt(m.requests)} creates took ${fmt(m.createSeconds, 1)} s of the ${fmt(m.seconds, 1)}`,
      pg ? ratio(m.itemsPerSecond, pg.itemsPerSecond) : '',
      '',
    );
  }
  if (lite) {
    row(`end to end, PGlite: the same`, `${fmt(lite.itemsPerSecond)} items/s`, runsOf(lite), '', `≥ 5,000/s: ${verdict(lite.itemsPerSecond >= 5000)}`);
    row(`end to end, PGlite: CPU seconds per 100,000 items (median run)`, cpuOf(lite), `${fmt(lite.endToEndSeconds, 1)} s on ${cpus().length} cores`, '', '');
  }
  /**
   * A figure Refinery's PostgreSQL run is compared with: the median of the rounds' when it was
   * measured in them (the ratio is then the median of the rounds' own ratios), else its single run
   * against the median run.
   */
  const against = (perRound: (x: Round) => number | undefined, alone: number | undefined) => {
    const inRounds = rounds.filter((x) => perRound(x) !== undefined);
    if (inRounds.length > 0) {
      const ratios = inRounds.map((x) => x.refinery.itemsPerSecond / perRound(x)!);
      return { figure: percentile(inRounds.map((x) => perRound(x)!), 50), ratio: percentile(ratios, 50), rounds: ratios };
    }
    if (alone === undefined) return null;
    return { figure: alone, ratio: pg ? pg.itemsPerSecond / alone : null, rounds: [] };
  };
  type Compared = NonNullable<ReturnType<typeof against>>;
  const ratioCell = (c: Compared) => (c.ratio === null ? '' : `${fmt(c.ratio, 2)}x`);
  const againstCell = (c: Compared) =>
    c.rounds.length > 1 ? `Refinery PostgreSQL, each round's run beside it: ${c.rounds.map((x) => `${fmt(x, 2)}x`).join(', ')}` : 'Refinery PostgreSQL';
  const graphileA = against((x) => x.graphileA?.itemsPerSecond, r.peers?.graphileA?.itemsPerSecond);
  const pgBossA = against((x) => x.pgBossA?.itemsPerSecond, r.peers?.pgBossA?.itemsPerSecond);
  if (graphileA && pgBossA) {
    row('graphile-worker 0.17.3 (a): one job per 1,000 items', `${fmt(graphileA.figure)} items/s`, againstCell(graphileA), ratioCell(graphileA), '');
    // Against the better peer of each round.
    const bestA = against((x) => (x.graphileA && x.pgBossA ? Math.max(x.graphileA.itemsPerSecond, x.pgBossA.itemsPerSecond) : undefined), Math.max(graphileA.figure, pgBossA.figure));
    row('pg-boss 10.4.2 (a): one job per 1,000 items', `${fmt(pgBossA.figure)} items/s`, againstCell(pgBossA), ratioCell(pgBossA), bestA?.ratio != null ? `≥ best (a): ${verdict(bestA.ratio >= 1)}` : '');
    cpuRow('graphile-worker 0.17.3 (a)', (x) => x.graphileA, r.peers?.graphileA);
    cpuRow('pg-boss 10.4.2 (a)', (x) => x.pgBossA, r.peers?.pgBossA);
  }
  countersRows();
  /**
   * What PostgreSQL itself counted per item completed (pgCounters.ts), Refinery's end-to-end run
   * against the peers' (a) of the same round: the medians of the rounds' figures and of their ratios.
   */
  function countersRows(): void {
    interface Counted {
      pg: PgCounts;
      items: number;
      cpu: number;
    }
    const ofRefinery = (e: EndToEndResult): Counted | null => (e.pg ? { pg: e.pg, items: e.completed, cpu: e.cpuSeconds.postgresql } : null);
    const ofPeer = (p: PeerThroughputResult | undefined): Counted | null => (p?.pg ? { pg: p.pg, items: p.done, cpu: p.cpuSeconds.postgresql } : null);
    const counted = rounds.flatMap((x) => {
      const refinery = ofRefinery(x.refinery);
      return refinery ? [{ refinery, graphile: ofPeer(x.graphileA), pgBoss: ofPeer(x.pgBossA) }] : [];
    });
    if (counted.length === 0) return;
    const kb = (bytes: number) => `${fmt(bytes / 1024, 2)} KB`;
    const median = (values: number[]) => percentile(values, 50);
    const measures: Array<{ name: string; of: (c: Counted) => number; show: (v: number) => string; also?: { name: string; of: (c: Counted) => number }; target: ((v: number) => string) | null }> = [
      {
        name: 'rows written (pg_stat_database: tuples inserted + updated + deleted)',
        of: (c: Counted) => c.pg.rowsWritten / c.items,
        show: (v: number) => fmt(v, 2),
        target: (v: number) => `≤ 2.0: ${verdict(v <= 2)}`,
      },
      {
        name: "WAL (its database's records, full-page images included, and their commits: pg_walinspect)",
        of: (c: Counted) => c.pg.walBytes / c.items,
        show: kb,
        // The LSN advance counts what other clients of the server wrote meanwhile.
        also: { name: "the server's whole LSN advance", of: (c: Counted) => c.pg.clusterWalBytes / c.items },
        target: (v: number) => `≤ 1.1 KB: ${verdict(v <= 1.1 * 1024)}`,
      },
      {
        name: 'PostgreSQL CPU (the processes serving its database)',
        of: (c: Counted) => (c.pg.backendCpuSeconds * 1e6) / c.items,
        // The server's other clients share these; the peers' CPU rows above count them.
        also: { name: "all the server's processes", of: (c: Counted) => (c.cpu * 1e6) / c.items },
        show: (v: number) => `${fmt(v)} µs`,
        target: null,
      },
    ];
    const peerNames = [
      ['graphile-worker (a)', (x: (typeof counted)[number]) => x.graphile],
      ['pg-boss (a)', (x: (typeof counted)[number]) => x.pgBoss],
    ] as const;
    for (const m of measures) {
      /** The median of the rounds' figures, and of the server-wide one beside it. */
      const figure = (of: (Counted | null)[]) => {
        const cs = of.filter((c) => c !== null);
        return `${m.show(median(cs.map(m.of)))}${m.also ? ` (${m.also.name}: ${m.show(median(cs.map(m.also.of)))})` : ''}`;
      };
      const refinery = median(counted.map((x) => m.of(x.refinery)));
      const peers = peerNames.flatMap(([name, peerOf]) => {
        const paired = counted.flatMap((x) => (peerOf(x) ? [{ refinery: x.refinery, peer: peerOf(x)! }] : []));
        if (paired.length === 0) return [];
        const ratios = paired.map((x) => m.of(x.refinery) / m.of(x.peer));
        return [{ name, figure: figure(paired.map((x) => x.peer)), ratio: median(ratios), ratios }];
      });
      const graphile = peers.find((p) => p.name === 'graphile-worker (a)');
      const complete = counted.every((x) => x.refinery.items === records);
      row(
        `PostgreSQL's counters, end to end, per item completed: ${m.name}`,
        figure(counted.map((x) => x.refinery)),
        peers.map((p) => `${p.name}: ${p.figure}${p.ratios.length > 1 ? `, each round's ratio ${p.ratios.map((x) => `${fmt(x, 2)}x`).join(', ')}` : ''}`).join('; '),
        peers.map((p) => `${fmt(p.ratio, 2)}x`).join(' / '),
        m.target ? `${m.target(refinery)}${complete ? '' : ' (not every item completed)'}` : graphile ? `≤ 1.2x graphile-worker (a): ${verdict(graphile.ratio <= 1.2)}` : '',
      );
    }
  }
  /**
   * The CPU a peer's (a) used for the same items, against Refinery's: the round with the median
   * total for the peer, and the median of the rounds' ratios (Refinery's total over the peer's).
   */
  function cpuRow(name: string, ofRound: (x: Round) => PeerThroughputResult | undefined, alone: PeerThroughputResult | null | undefined): void {
    const paired = rounds.flatMap((x) => (ofRound(x) ? [{ peer: ofRound(x)!, refinery: x.refinery }] : []));
    if (paired.length === 0 && alone && pg) paired.push({ peer: alone, refinery: pg });
    if (paired.length === 0) return;
    const byTotal = [...paired].sort((a, b) => peerCpu(a.peer) - peerCpu(b.peer));
    const { peer } = byTotal[Math.floor((byTotal.length - 1) / 2)];
    const per = (seconds: number) => fmt(per100k(seconds, peer.items), 1);
    const ratios = paired.map((x) => refineryCpu(x.refinery) / peerCpu(x.peer));
    row(
      `${name}: CPU seconds per 100,000 items (median round)`,
      `PostgreSQL ${per(peer.cpuSeconds.postgresql)}, workers ${per(peer.cpuSeconds.workers)}, enqueuing ${per(peer.cpuSeconds.enqueuing)}: ${fmt(peerCpu(peer), 1)} in all`,
      `Refinery PostgreSQL's in all, each round's: ${paired.map((x) => fmt(refineryCpu(x.refinery), 1)).join(', ')} (Refinery's over the peer's: ${ratios.map((x) => `${fmt(x, 2)}x`).join(', ')})`,
      `${fmt(percentile(ratios, 50), 2)}x`,
      '',
    );
  }
  if (r.peers) {
    const bestB = Math.max(r.peers.graphileB.itemsPerSecond, r.peers.pgBossB.itemsPerSecond);
    row('graphile-worker 0.17.3 (b): one job per item', `${fmt(r.peers.graphileB.itemsPerSecond)} items/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.peers.graphileB.itemsPerSecond) : '', '');
    row('pg-boss 10.4.2 (b): one job per item', `${fmt(r.peers.pgBossB.itemsPerSecond)} items/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.peers.pgBossB.itemsPerSecond) : '', pg ? `≥ 3x best (b): ${verdict(pg.itemsPerSecond >= 3 * bestB)}` : '');
  }
  const copyIn = against((x) => x.floor?.copyInRowsPerSecond, r.floor?.copyInRowsPerSecond);
  const copyOut = against((x) => x.floor?.copyOutRowsPerSecond, r.floor?.copyOutRowsPerSecond);
  if (copyIn && copyOut) {
    row(`floor: COPY of ${fmt(records)} enhancement rows (write limit)`, `${fmt(copyIn.figure)} rows/s`, againstCell(copyIn), ratioCell(copyIn), copyIn.ratio === null ? '' : `≥ 0.30x: ${verdict(copyIn.ratio >= 0.3)}`);
    row(`floor: streaming SELECT of ${fmt(records)} records to JSONL (read limit)`, `${fmt(copyOut.figure)} rows/s`, againstCell(copyOut), ratioCell(copyOut), '');
  }
  if (r.latency) {
    const { refinery: l, graphile: g, refineryAfterIdle: li, graphileAfterIdle: gi } = r.latency;
    row(`dispatch latency, ${fmt(l.requests)} one-item requests one after another, robot in a long poll: p50`, `${fmt(l.p50Ms, 1)} ms`, 'graphile-worker enqueue→start p50', ratio(l.p50Ms, g.p50Ms), `≤ 5 ms: ${verdict(l.p50Ms <= 5)}; ≤ 2x: ${verdict(l.p50Ms <= 2 * g.p50Ms)}`);
    row('dispatch latency: p99', `${fmt(l.p99Ms, 1)} ms`, 'graphile-worker enqueue→start p99', ratio(l.p99Ms, g.p99Ms), `≤ 25 ms: ${verdict(l.p99Ms <= 25)}; ≤ 2x: ${verdict(l.p99Ms <= 2 * g.p99Ms)}`);
    row('graphile-worker 0.17.3 dispatch latency p50 / p99', `${fmt(g.p50Ms, 1)} / ${fmt(g.p99Ms, 1)} ms`, '', '', '');
    row(`dispatch latency, each after ${idleMs} ms idle: p50 / p99`, `${fmt(li.p50Ms, 1)} / ${fmt(li.p99Ms, 1)} ms`, `graphile-worker the same: ${fmt(gi.p50Ms, 1)} / ${fmt(gi.p99Ms, 1)} ms`, `${ratio(li.p50Ms, gi.p50Ms)} / ${ratio(li.p99Ms, gi.p99Ms)}`, '');
  }
  if (r.scaled) {
    const [base, big] = r.scaled.runs;
    row(`scale: one ${fmt(big.items)}-item request`, `${fmt(big.itemsPerSecond)} items/s`, `${fmt(base.items)} items: ${fmt(base.itemsPerSecond)}/s`, '', '');
    row(`scale: Refinery peak RSS at ${fmt(big.items)} items`, `${fmt(big.peakRssMb)} MB`, '', '', `≤ 300 MB: ${verdict(big.peakRssMb <= 300)}`);
    row(`scale: cost per item at ${fmt(big.items)} / at ${fmt(base.items)}`, `${fmt(r.scaled.costRatio, 2)}x`, '', '', `≤ 1.25x: ${verdict(r.scaled.costRatio <= 1.25)}`);
    row(`scale: the ${fmt(big.items)}-item create alone (POST /v1/requests to its 202)`, `${fmt(big.createSeconds, 1)} s`, `${fmt(base.items)} items: ${fmt(base.createSeconds, 1)} s`, '', '');
    row(`scale: the records import before it (POST /v1/records, JSON Lines)`, `${fmt(big.items / big.importSeconds)} records/s`, `${fmt(base.items)} records: ${fmt(base.items / base.importSeconds)}/s`, '', '');
  }
  if (r.small) {
    row(`small batches: ${fmt(r.small.cycles)} one-item batches (lease + GET + PUT + results), ${r.small.concurrency} loops`, `${fmt(r.small.refineryRoundTripsPerSecond)} cycles/s`, `bare Fastify hello-world: ${fmt(r.small.fastifyRoundTripsPerSecond)} req/s`, `${fmt(r.small.ratio, 3)}x`, '');
  }
  if (r.memoryRuns) {
    const mb = (x: number) => `${fmt(x)} MB`;
    for (const backend of ['pglite', 'postgres'] as const) {
      const [plain, bounded] = [false, true].map((b) => r.memoryRuns!.find((m) => m.backend === backend && (m.nodeArgs.length > 0) === b)!);
      const where = backend === 'pglite' ? 'embedded (PGlite, files)' : 'on PostgreSQL';
      const idle = (m: MemoryRun) => `${mb(m.idleFirstStartMb)} (peak ${mb(m.peakFirstStartMb)} starting)${m.idleRestartMb === null ? '' : ` / ${mb(m.idleRestartMb)}`}`;
      row(
        `memory: \`refinery serve\` ${where}, RSS idle after its first start${backend === 'pglite' ? ' / after a restart on its data' : ''}`,
        idle(plain),
        `npm start (${bounded.nodeArgs.join(' ')}): ${idle(bounded)}`,
        '',
        '',
      );
      row(
        `memory: \`refinery serve\` ${where}, peak RSS over one ${fmt(plain.items)}-item request (import, create, 2 robots); idle after it`,
        `${mb(plain.peakRequestMb)}; ${mb(plain.idleAfterRequestMb)}`,
        `npm start: ${mb(bounded.peakRequestMb)}; ${mb(bounded.idleAfterRequestMb)}`,
        '',
        '',
      );
    }
  }
  if (r.encryption) {
    const c = r.encryption;
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)} %`;
    row(
      `encryption (${c.backend}): a ${fmt(c.records)}-record request of an encrypted type, POST to final state (median of ${c.rounds})`,
      `${fmt(c.encrypted.itemsPerSecond)} items/s`,
      `not encrypted: ${fmt(c.plain.itemsPerSecond)} items/s`,
      pct(c.endToEndCost),
      '',
    );
    row(`encryption (${c.backend}): its records import (POST /v1/records)`, `${fmt(c.records / c.encrypted.importSeconds)} records/s`, `not encrypted: ${fmt(c.records / c.plain.importSeconds)} records/s`, pct(c.importCost), '');
    row(
      'encryption: every blob sealed, whatever its type (the unencrypted path\'s cost): sealing and opening, per MB; share of the plain run',
      `${fmt(c.blobSealMsPerMb, 2)} ms/MB`,
      'at most 2 %',
      pct(c.blobShare),
      verdict(c.blobShare <= 0.02),
    );
  }
  for (const l of r.loadRuns ?? []) {
    const name = l.backend === 'postgres' ? 'PostgreSQL' : 'PGlite';
    const mb = (x: number) => `${fmt(x)} MB`;
    row(
      `load, ${name}: ${l.robots} robots in long polls (4 processes), ${l.requesters} requesters creating requests of 1–10 records for ${fmt(l.seconds)} s: errors`,
      `${fmt(l.errors)} (Refinery's error lines: ${fmt(l.serverErrorLines)})`,
      `${fmt(l.creates)} creates (${fmt(l.createsPerSecond)}/s), ${fmt(l.items)} items worked; requests open 60 s after: ${fmt(l.openRequestsAfter)}${l.openRequestsAfter > 0 ? ` (items ${Object.entries(l.openItemsAfter).map(([status, n]) => `${status} ${fmt(n)}`).join(', ')})` : ''}; lapsed leases ${fmt(l.leaseExpiries)}, items retried ${fmt(l.itemsRetried)}`,
      '',
      `0: ${verdict(l.errors === 0 && l.serverErrorLines === 0)}`,
    );
    row(`load, ${name}: the create (POST /v1/requests) p50 / p99`, `${fmt(l.createP50Ms, 1)} / ${fmt(l.createP99Ms, 1)} ms`, '', '', '');
    row(`load, ${name}: Refinery's RSS with the robots waiting / peak under load / idle after`, `${mb(l.rssStartMb)} / ${mb(l.rssPeakMb)} / ${mb(l.rssEndMb)}`, `every 15 s under load: ${l.rssDuringMb.join(', ')} MB`, '', '');
    row(
      `load, ${name}: CPU while the ${l.robots} robots only wait (share of a core)`,
      `Refinery ${fmt(l.idleCpu.refinery * 100, 1)} %${l.idleCpu.postgresql === null || !Number.isFinite(l.idleCpu.postgresql) ? '' : `, PostgreSQL ${fmt(l.idleCpu.postgresql * 100, 1)} %`}`,
      '',
      '',
      '',
    );
    if (l.connectionsAtEnd) {
      row(
        `load, ${name}: the database's connections once the clients stopped (pg_stat_activity); left over (not idle, or past the pool's 21); after Refinery stopped`,
        `${Object.entries(l.connectionsAtEnd).map(([state, n]) => `${n} ${state}`).join(', ') || 'none'}; ${fmt(l.leftoverConnections!)} left over; ${fmt(l.connectionsAfterServerStop!)} after`,
        '',
        '',
        `none left over: ${verdict(l.leftoverConnections === 0 && l.connectionsAfterServerStop === 0)}`,
      );
    }
  }
  if (r.before) {
    const b = r.before;
    const cpu = (f: BaselineResult['before']) => `Refinery ${fmt(f.refineryCpu, 1)}, robots ${fmt(f.robotsCpu, 1)}, PostgreSQL ${fmt(f.postgresqlCpu, 1)}`;
    row(
      `before and after, ${b.backend === 'postgres' ? 'PostgreSQL' : 'PGlite'} end to end: this checkout against ${b.ref} (${b.commit.slice(0, 7)}), alternating, median of ${b.rounds.length} rounds`,
      `${fmt(b.after.itemsPerSecond)} items/s`,
      `before: ${fmt(b.before.itemsPerSecond)} items/s; each round: ${b.rounds.map((x) => `${fmt(x.after.itemsPerSecond)} / ${fmt(x.before.itemsPerSecond)}`).join(', ')}`,
      `${fmt(b.ratio, 3)}x`,
      `≥ 0.98x: ${verdict(b.ratio >= 0.98)}`,
    );
    row('before and after: CPU seconds per 100,000 items (medians)', cpu(b.after), `before: ${cpu(b.before)}`, `${fmt(b.after.refineryCpu / b.before.refineryCpu, 3)}x (Refinery's process)`, '');
  }
  for (const m of r.scrapes ?? []) {
    row(
      `GET /metrics, ${m.backend === 'postgres' ? 'PostgreSQL' : 'PGlite'}: ${fmt(m.robots)} robots, ${fmt(m.pendingItems)} items pending at two priorities each, webhooks pending; ${fmt(m.scrapes)} scrapes, p50 / p95 / max`,
      `${fmt(m.p50Ms, 1)} / ${fmt(m.p95Ms, 1)} / ${fmt(m.maxMs, 1)} ms`,
      `${fmt(m.bytes / 1024)} KB a scrape`,
      '',
      `p95 < 50 ms: ${verdict(m.p95Ms < 50)}`,
    );
  }
  if (r.queried) {
    const [small, large] = r.queried.runs;
    row(
      `request by query, PostgreSQL: \`${large.query}\` matching ${fmt(large.matched)} records: POST /v1/requests to its 202`,
      `${fmt(large.acceptSeconds, 1)} s`,
      `a query matching ${fmt(small.matched)}: ${fmt(small.acceptSeconds * 1000)} ms`,
      '',
      `< 10 s: ${verdict(large.acceptSeconds < 10)}`,
    );
    row(`request by query: POST until every item is written`, `${fmt(large.writtenSeconds, 1)} s (${fmt(large.matched / large.writtenSeconds)} items/s)`, `${fmt(small.matched)}: ${fmt(small.writtenSeconds * 1000)} ms`, '', '');
    row(
      `request by query: Refinery's peak RSS from the POST until every item is written`,
      `${fmt(large.peakRssMb)} MB`,
      `${fmt(small.matched)} matched: ${fmt(small.peakRssMb)} MB; idle before: ${fmt(r.queried.idleRssMb)} MB`,
      ratio(large.peakRssMb, small.peakRssMb),
      '',
    );
  }
  for (const a of r.automation ?? []) {
    row(
      `automation latency, ${a.backend}: import's commit to the chained batch's lease, p50 / p99 (window ${fmt(a.windowMs)} ms, ${a.rounds} rounds)`,
      `${fmt(a.p50Ms, 1)} / ${fmt(a.p99Ms, 1)} ms`,
      `max ${fmt(a.maxMs, 1)} ms`,
      '',
      `p50 < window + 50 ms: ${verdict(a.p50Ms < a.windowMs + 50)}`,
    );
  }
  if (r.dashboard) {
    const d = r.dashboard;
    for (const [name, ms] of Object.entries(d.ms)) {
      row(`dashboard, PostgreSQL: one ${fmt(d.items)}-item request (${fmt(d.failed)} failed), over HTTP: ${name}`, `${fmt(ms, 1)} ms`, 'median of 7', '', name === 'throughput' ? '' : `≤ 200 ms: ${verdict(ms <= 200)}`);
    }
  }
  console.log('\n' + lines.join('\n'));
}
