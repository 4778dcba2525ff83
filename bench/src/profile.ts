/**
 * BENCH_PROFILE=1: where Refinery's database time goes. Wraps the Db handed to Refinery and adds
 * up, per query file (the caller in packages/server/src), how many statements ran and how long
 * they took from send to answer (lock waits included); printed to stderr when the run closes.
 * `onStatement`, when set, hears of each statement as it ends (the dispatch timeline).
 */
import type { Readable } from 'node:stream';
import type { Db, QueryOptions } from '@refinery/server';

type Queryable = Pick<Db, 'query' | 'exec' | 'copyFrom'>;
interface Tally {
  count: number;
  ms: number;
  maxMs: number;
}

export interface ProfiledDb {
  db: Db;
  report(): string;
  /** Each statement's caller and its start and end (`performance.now()`), once it has ended. */
  onStatement: ((label: string, startMs: number, endMs: number) => void) | null;
}

export function profiledDb(db: Db): ProfiledDb {
  const tallies = new Map<string, Tally>();
  /**
   * The file of the first caller in packages/server/src outside its db folder. From the stack's
   * call sites, not its text: formatting the text maps every frame through tsx's source maps, 0.1
   * ms a statement, which the dispatch timeline counted as Refinery's own time.
   */
  const callerOf = () => {
    const prepare = Error.prepareStackTrace;
    Error.prepareStackTrace = (_error, sites) => sites;
    const sites = (new Error().stack as unknown as NodeJS.CallSite[]).slice(1);
    Error.prepareStackTrace = prepare;
    const files = sites.map((site) => site.getFileName() ?? '');
    const file = files.find((f) => f.includes('/packages/server/src/') && !f.includes('/db/')) ?? files[0] ?? '';
    return file.match(/\/packages\/server\/src\/([^?]+)/)?.[1] ?? file;
  };
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      const ms = performance.now() - t;
      const tally = tallies.get(label) ?? { count: 0, ms: 0, maxMs: 0 };
      tally.count++;
      tally.ms += ms;
      tally.maxMs = Math.max(tally.maxMs, ms);
      tallies.set(label, tally);
      profiled.onStatement?.(label, t, t + ms);
    }
  };
  const wrap = <Q extends Queryable>(q: Q): Q =>
    ({
      ...q,
      query: (sql: string, params?: readonly unknown[], options?: QueryOptions) => timed(callerOf(), () => q.query(sql, params, options)),
      exec: (sql: string) => q.exec(sql),
      copyFrom: (table: string, columns: readonly string[], file: Readable) => timed(`copyFrom ${table}`, () => q.copyFrom(table, columns, file)),
    }) as Q;
  const wrapped: Db = {
    ...wrap(db),
    kind: db.kind,
    rowLine: db.rowLine,
    transaction: (fn) => timed(`transaction (${callerOf()})`, () => db.transaction((tx) => fn(wrap(tx)))),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
  const profiled: ProfiledDb = {
    db: wrapped,
    onStatement: null,
    report() {
      const rows = [...tallies.entries()].sort((a, b) => b[1].ms - a[1].ms);
      const lines = rows.map(([label, t]) => `${t.ms.toFixed(0).padStart(9)} ms ${String(t.count).padStart(7)} × ${(t.ms / t.count).toFixed(1).padStart(7)} ms avg ${t.maxMs.toFixed(0).padStart(6)} ms max  ${label}`);
      return ['# database time by caller (send to answer, waits included)', ...lines].join('\n');
    },
  };
  return profiled;
}
