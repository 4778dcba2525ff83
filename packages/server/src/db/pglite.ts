import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { insertJsonLines, jsonRowLine, type Db, type Queryable, type QueryResult } from './db.ts';

/** A call to the database thread (pgliteThread.ts); `tx` names the transaction a statement runs in. */
export type PgliteCall = { id: number } & (
  | { op: 'query'; sql: string; params?: unknown[]; tx?: number }
  | { op: 'exec'; sql: string; tx?: number }
  | { op: 'begin'; tx: number }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'listen' | 'unlisten'; channel: string }
  | { op: 'close' }
);
type Call = PgliteCall extends infer C ? (C extends PgliteCall ? Omit<C, 'id'> : never) : never;

/** What the database thread sends back: an answer to a call, a NOTIFY, or that it has started. */
export type PgliteReply = { id: number; result: unknown } | { id: number; error: Record<string, unknown> } | { notify: string; payload: string } | { ready: true };

/**
 * Starts the database thread. Run as TypeScript (through tsx), the thread registers tsx before it
 * loads its module: a worker does not inherit the `--import tsx` of its process.
 */
function startThread(module: URL, workerData: unknown): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData });
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * PGlite: PostgreSQL compiled to WebAssembly, in a thread of this process (pgliteThread.ts), so
 * that the database and Refinery's own work use two cores. `dataDir` undefined keeps it in memory.
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  const worker = startThread(new URL(`./pgliteThread${extname(fileURLToPath(import.meta.url))}`, import.meta.url), { dataDir });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let nextId = 1;
  let nextTx = 1;
  let stopped: Error | null = null;

  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (reply: PgliteReply) => {
      if ('ready' in reply) return resolve();
      if ('notify' in reply) {
        for (const handler of handlers.get(reply.notify) ?? []) handler(reply.payload);
        return;
      }
      const caller = waiting.get(reply.id);
      waiting.delete(reply.id);
      if ('error' in reply) caller?.reject(Object.assign(new Error(String(reply.error.message)), reply.error));
      else caller?.resolve(reply.result);
    });
    const stop = (err: Error) => {
      stopped = err;
      reject(err);
      for (const caller of waiting.values()) caller.reject(err);
      waiting.clear();
    };
    worker.on('error', (err) => stop(new Error(`the embedded database stopped: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => stop(new Error(`the embedded database's thread ended (exit code ${code})`)));
  });

  function call<T>(message: Call): Promise<T> {
    if (stopped) return Promise.reject(stopped);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...message, id });
    });
  }

  const queryable = (tx?: number): Queryable => {
    const q: Queryable = {
      query: <R>(sql: string, params?: readonly unknown[]) => call<QueryResult<R>>({ op: 'query', sql, params: params as unknown[] | undefined, tx }),
      exec: (sql: string) => call<void>({ op: 'exec', sql, tx }),
      copyFrom: (table, columns, file) => insertJsonLines(q, table, columns, file),
    };
    return q;
  };

  await ready;
  return {
    kind: 'pglite',
    ...queryable(),
    rowLine: jsonRowLine,
    async transaction(fn) {
      const tx = nextTx++;
      await call<void>({ op: 'begin', tx });
      let result;
      try {
        result = await fn(queryable(tx));
      } catch (err) {
        await call<void>({ op: 'end', tx, commit: false }).catch(() => {});
        throw err;
      }
      await call<void>({ op: 'end', tx, commit: true });
      return result;
    },
    async listen(channel, onNotify) {
      let set = handlers.get(channel);
      if (!set) {
        handlers.set(channel, (set = new Set()));
        await call<void>({ op: 'listen', channel });
      }
      set.add(onNotify);
      return async () => {
        set.delete(onNotify);
        if (set.size === 0 && handlers.get(channel) === set) {
          handlers.delete(channel);
          await call<void>({ op: 'unlisten', channel });
        }
      };
    },
    async close() {
      if (!stopped) await call<void>({ op: 'close' });
      await worker.terminate();
    },
  };
}
