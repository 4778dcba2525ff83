/**
 * BENCH_CPU_PROF=dir: a V8 CPU profile of this process (Refinery, in the end-to-end runs) over the
 * measured part only, written to `dir` as a .cpuprofile file (Chrome DevTools, speedscope), and
 * the process's CPU by thread on stderr. BENCH_CPU_PROF=threads: the CPU by thread only (no
 * profiler, whose sampling costs CPU of its own). BENCH_CPU_PROF=perf:dir: `perf record` of this
 * process (all its threads, kernel time included, CPU samples rather than wall-clock ones) into
 * `dir`; run with NODE_OPTIONS=--perf-basic-prof for the names of JavaScript functions.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';

/** CPU seconds of this process's threads: the main thread, and the others (GC and compiler helpers, libuv's pool) by thread id. */
function threadSeconds(): Map<string, number> {
  const byThread = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byThread.set(Number(tid) === process.pid ? 'main' : tid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return byThread;
}

/** Starts profiling when BENCH_CPU_PROF is set; the returned function stops and writes `<label>-<time>.cpuprofile`. */
export async function startCpuProfile(label: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return async () => {};
  const perfDir = dir.startsWith('perf:') ? dir.slice('perf:'.length) : null;
  if (perfDir) mkdirSync(perfDir, { recursive: true });
  const perfFile = perfDir && join(perfDir, `${label.replace(/\W+/g, '-')}-${Date.now()}.perf.data`);
  const perf = perfFile ? spawn('perf', ['record', '-F', '997', '-p', String(process.pid), '-o', perfFile], { stdio: 'ignore' }) : null;
  if (perf) await new Promise((r) => setTimeout(r, 500));
  // alloc:dir — where the bytes the collector has to deal with are allocated (a sampling heap profile, garbage included).
  const allocDir = dir.startsWith('alloc:') ? dir.slice('alloc:'.length) : null;
  const session = dir === 'threads' || perf ? null : new Session();
  session?.connect();
  if (allocDir) await session?.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  else {
    await session?.post('Profiler.enable');
    await session?.post('Profiler.start');
  }
  const gcs = new Map<string, { count: number; ms: number }>();
  const gcKinds: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = gcKinds[(entry as unknown as { detail: { kind: number } }).detail.kind] ?? 'other';
      const g = gcs.get(kind) ?? { count: 0, ms: 0 };
      g.count++;
      g.ms += entry.duration;
      gcs.set(kind, g);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  console.error(`# ${label}: the measured part starts`);
  const heapBefore = process.memoryUsage();
  const before = threadSeconds();
  return async () => {
    const after = threadSeconds();
    observer.disconnect();
    const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    const heapAfter = process.memoryUsage();
    console.error(`# GC pauses: ${[...gcs].map(([kind, g]) => `${kind} ${g.count} × (${g.ms.toFixed(0)} ms)`).join(', ')}; heap used ${mb(heapBefore.heapUsed)} → ${mb(heapAfter.heapUsed)}, external ${mb(heapBefore.external)} → ${mb(heapAfter.external)}`);
    const used = [...after].map(([id, s]) => [id, s - (before.get(id) ?? 0)] as const);
    const others = used.filter(([id]) => id !== 'main').sort((a, b) => b[1] - a[1]);
    const total = (list: ReadonlyArray<readonly [string, number]>) => list.reduce((sum, [, s]) => sum + s, 0);
    console.error(`# CPU by thread: main ${total(used.filter(([id]) => id === 'main')).toFixed(2)} s, others ${total(others).toFixed(2)} s (${others.slice(0, 6).map(([, s]) => s.toFixed(2)).join(', ')})`);
    if (perf) {
      const exited = new Promise((r) => perf.once('exit', r));
      perf.kill('SIGINT');
      await exited;
      console.error(`# perf record: ${perfFile}`);
    }
    if (!session) return;
    if (allocDir) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      session.disconnect();
      mkdirSync(allocDir, { recursive: true });
      const file = join(allocDir, `${label.replace(/\W+/g, '-')}-${Date.now()}.heapprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.error(`# allocation profile: ${file}`);
      return;
    }
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${label.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.error(`# CPU profile: ${file}`);
  };
}
