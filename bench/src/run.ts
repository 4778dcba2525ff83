/**
 * npm run bench: Refinery against its peers and the machine's limits, through real HTTP, on
 * PostgreSQL (DATABASE_URL, the local one by default) and PGlite. Prints one table (markdown);
 * every figure comes from this run. Takes about 17 minutes on a 2-core machine.
 *
 * BENCH_ONLY: a comma list of sections (e2e, peers, floors, latency, scale, small); all by default.
 * BENCH_BACKENDS: the end-to-end backends (postgres, pglite); both by default.
 * BENCH_PROFILE=1: database time by query file, CPU time by process and the dispatch latency's timeline step by step, on stderr.
 * BENCH_E2E_RUNS (default 3): end-to-end runs per backend; the table shows the median run and all of them.
 * BENCH_RECORDS (default 100,000), ROBOTS (default 4), BENCH_SCALE_ITEMS (default 1,000,000),
 * BENCH_SMALL_BATCHES (default 10,000), BENCH_SMALL_MAX_SECONDS (default 150).
 */
import { cpus } from 'node:os';
import { dispatchLatency, type DispatchLatencyResult } from './dispatchLatency.ts';
import { endToEnd, type EndToEndResult } from './endToEnd.ts';
import { floors, type FloorsResult } from './floors.ts';
import { graphileWorkerLatency, graphileWorkerThroughput, type LatencyResult, type PeerThroughputResult } from './peers/graphileWorker.ts';
import { pgBossThroughput } from './peers/pgBoss.ts';
import { scale, type ScaleResult } from './scale.ts';
import { smallBatches, type SmallBatchesResult } from './smallBatches.ts';
import { fmt, type Backend } from './support.ts';

const records = Number(process.env.BENCH_RECORDS ?? 100_000);
const robots = Number(process.env.ROBOTS ?? 4);
const batchSize = 1000;
const only = new Set((process.env.BENCH_ONLY ?? 'e2e,peers,floors,latency,scale,small').split(','));

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
const e2e = await section('e2e', async () => {
  const results: EndToEndFigure[] = [];
  for (const backend of backends) {
    const runs: EndToEndResult[] = [];
    for (let i = 0; i < e2eRuns; i++) runs.push(await endToEnd(backend, { records, robots, batchSize }));
    const sorted = [...runs].sort((a, b) => a.itemsPerSecond - b.itemsPerSecond);
    results.push({ ...sorted[Math.floor((sorted.length - 1) / 2)], runs: runs.map((r) => Math.round(r.itemsPerSecond)) });
  }
  return results;
});
const peers = await section('peers', async () => ({
  graphileA: await graphileWorkerThroughput({ items: records, jobSize: 1000 }),
  graphileB: await graphileWorkerThroughput({ items: records, jobSize: 1 }),
  pgBossA: await pgBossThroughput({ items: records, jobSize: 1000 }),
  pgBossB: await pgBossThroughput({ items: records, jobSize: 1 }),
}));
const floor = await section('floors', () => floors({ rows: records }));
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

printTable({ e2e, peers, floor, latency, scaled, small });

function printTable(r: {
  e2e: EndToEndFigure[] | null;
  peers: Record<'graphileA' | 'graphileB' | 'pgBossA' | 'pgBossB', PeerThroughputResult> | null;
  floor: FloorsResult | null;
  latency: { refinery: DispatchLatencyResult; graphile: LatencyResult; refineryAfterIdle: DispatchLatencyResult; graphileAfterIdle: LatencyResult } | null;
  scaled: ScaleResult | null;
  small: SmallBatchesResult | null;
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
    const per = (s: number) => fmt((s * 100_000) / e.records, 1);
    return `${e.backend === 'postgres' ? `PostgreSQL ${per(e.cpuSeconds.postgresql)}, ` : ''}Refinery ${per(e.cpuSeconds.refinery)}, robots ${per(e.cpuSeconds.robots)}`;
  };
  if (pg) {
    row(`end to end, PostgreSQL: ${fmt(pg.records)} items, ${robots} robot processes, batches of ${batchSize}`, `${fmt(pg.itemsPerSecond)} items/s`, runsOf(pg), '', '');
    row(`end to end, PostgreSQL: CPU seconds per 100,000 items (median run)`, cpuOf(pg), `${fmt(pg.endToEndSeconds, 1)} s on ${cpus().length} cores`, '', '');
  }
  if (lite) {
    row(`end to end, PGlite: the same`, `${fmt(lite.itemsPerSecond)} items/s`, runsOf(lite), '', `≥ 5,000/s: ${verdict(lite.itemsPerSecond >= 5000)}`);
    row(`end to end, PGlite: CPU seconds per 100,000 items (median run)`, cpuOf(lite), `${fmt(lite.endToEndSeconds, 1)} s on ${cpus().length} cores`, '', '');
  }
  if (r.peers) {
    const bestA = Math.max(r.peers.graphileA.itemsPerSecond, r.peers.pgBossA.itemsPerSecond);
    const bestB = Math.max(r.peers.graphileB.itemsPerSecond, r.peers.pgBossB.itemsPerSecond);
    row('graphile-worker 0.17.3 (a): one job per 1,000 items', `${fmt(r.peers.graphileA.itemsPerSecond)} items/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.peers.graphileA.itemsPerSecond) : '', '');
    row('pg-boss 10.4.2 (a): one job per 1,000 items', `${fmt(r.peers.pgBossA.itemsPerSecond)} items/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.peers.pgBossA.itemsPerSecond) : '', pg ? `≥ best (a): ${verdict(pg.itemsPerSecond >= bestA)}` : '');
    row('graphile-worker 0.17.3 (b): one job per item', `${fmt(r.peers.graphileB.itemsPerSecond)} items/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.peers.graphileB.itemsPerSecond) : '', '');
    row('pg-boss 10.4.2 (b): one job per item', `${fmt(r.peers.pgBossB.itemsPerSecond)} items/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.peers.pgBossB.itemsPerSecond) : '', pg ? `≥ 3x best (b): ${verdict(pg.itemsPerSecond >= 3 * bestB)}` : '');
  }
  if (r.floor) {
    row(`floor: COPY of ${fmt(r.floor.rows)} enhancement rows (write limit)`, `${fmt(r.floor.copyInRowsPerSecond)} rows/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.floor.copyInRowsPerSecond) : '', pg ? `≥ 0.30x: ${verdict(pg.itemsPerSecond >= 0.3 * r.floor.copyInRowsPerSecond)}` : '');
    row(`floor: streaming SELECT of ${fmt(r.floor.rows)} records to JSONL (read limit)`, `${fmt(r.floor.copyOutRowsPerSecond)} rows/s`, 'Refinery PostgreSQL', pg ? ratio(pg.itemsPerSecond, r.floor.copyOutRowsPerSecond) : '', '');
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
  }
  if (r.small) {
    row(`small batches: ${fmt(r.small.cycles)} one-item batches (lease + GET + PUT + results), ${r.small.concurrency} loops`, `${fmt(r.small.refineryRoundTripsPerSecond)} cycles/s`, `bare Fastify hello-world: ${fmt(r.small.fastifyRoundTripsPerSecond)} req/s`, `${fmt(r.small.ratio, 3)}x`, '');
  }
  console.log('\n' + lines.join('\n'));
}
