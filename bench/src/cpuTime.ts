/**
 * BENCH_PROFILE=1: CPU seconds spent by each kind of process on this machine during a measurement
 * (Linux /proc): the Refinery process, robot processes, PostgreSQL backends. Shows which one a
 * 2-core machine runs out of.
 */
import { readdirSync, readFileSync } from 'node:fs';

const ticksPerSecond = 100;

function snapshot(): Map<number, { name: string; ticks: number }> {
  const seen = new Map<number, { name: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const name = Number(entry) === process.pid ? 'refinery (bench process)' : cmdline.includes('toy-robot') ? 'robot processes' : cmdline.startsWith('postgres') ? 'postgresql' : stat.slice(stat.indexOf('(') + 1, close);
      // utime + stime, plus the waited-for children's
      seen.set(Number(entry), { name, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  return seen;
}

export function cpuTimer(): () => string {
  const before = snapshot();
  return () => {
    const after = snapshot();
    const byName = new Map<string, number>();
    for (const [pid, p] of after) byName.set(p.name, (byName.get(p.name) ?? 0) + p.ticks - (before.get(pid)?.ticks ?? 0));
    return [...byName.entries()]
      .filter(([, t]) => t > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([name, t]) => `${(t / ticksPerSecond).toFixed(1)} s ${name}`)
      .join(', ');
  };
}
