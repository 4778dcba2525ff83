/**
 * CPU seconds spent by each kind of process on this machine during a measurement (Linux /proc):
 * the bench's own process (Refinery, or a peer's enqueuing), robot processes, a peer's worker
 * processes, PostgreSQL backends. Shows which one a 2-core machine runs out of, and how much work
 * each system needs for the same items.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const ticksPerSecond = 100;

/** CPU seconds (utime + stime) from the text of /proc/<pid>/stat. */
export function cpuSecondsOfStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** CPU seconds a process has used so far (0 once it has ended). */
export async function procCpuSeconds(pid: number): Promise<number> {
  return cpuSecondsOfStat(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
}

/** The command line of a peer's worker process (bench/src/peers/*Process.ts). */
const peerWorker = /\/peers\/\w+Process\.ts/;

/** The kinds cpuTimer counts by name: its results are read by these. Other processes go by their own name. */
export const processKind = {
  /** This process: Refinery in the end-to-end runs, a peer's enqueuing in the peers' runs. */
  bench: 'refinery (bench process)',
  robots: 'robot processes',
  peerWorkers: 'peer worker processes',
  postgresql: 'postgresql',
} as const;

function snapshot(): Map<number, { name: string; cmdline: string; seconds: number }> {
  const seen = new Map<number, { name: string; cmdline: string; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const name =
        Number(entry) === process.pid
          ? processKind.bench
          : cmdline.includes('toy-robot') || cmdline.includes('destinyRobot')
            ? processKind.robots
            : peerWorker.test(cmdline)
              ? processKind.peerWorkers
              : cmdline.startsWith('postgres')
                ? processKind.postgresql
                : stat.slice(stat.indexOf('(') + 1, close);
      seen.set(Number(entry), { name, cmdline, seconds: cpuSecondsOfStat(stat) });
    } catch {
      // the process ended meanwhile
    }
  }
  return seen;
}

/** CPU seconds used by each kind of process since the call, when the returned function is called. */
export function cpuTimer(): () => Map<string, number> {
  const before = snapshot();
  return () => {
    const after = snapshot();
    const byName = new Map<string, number>();
    for (const [pid, p] of after) byName.set(p.name, (byName.get(p.name) ?? 0) + p.seconds - (before.get(pid)?.seconds ?? 0));
    return byName;
  };
}

/**
 * CPU seconds used since the call by the PostgreSQL processes serving `database`: its backends and
 * autovacuum workers, which name it on their command line ("postgres: 15/main: postgres <database>
 * 127.0.0.1(…) idle"). Unlike the postgresql kind, it leaves out the server's other clients and
 * its shared processes (WAL writer, checkpointer, background writer).
 */
export function databaseCpuTimer(database: string): () => number {
  const serves = (p: { name: string; cmdline: string }) => p.name === processKind.postgresql && ` ${p.cmdline} `.includes(` ${database} `);
  const before = snapshot();
  return () => {
    let seconds = 0;
    for (const [pid, p] of snapshot()) if (serves(p)) seconds += p.seconds - (before.get(pid)?.seconds ?? 0);
    return seconds;
  };
}

/** The biggest users first: "16.3 s postgresql, 9.1 s refinery (bench process), …". */
export function describeCpu(byName: Map<string, number>): string {
  return [...byName.entries()]
    .filter(([, t]) => t > 0.005)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, t]) => `${t.toFixed(1)} s ${name}`)
    .join(', ');
}
