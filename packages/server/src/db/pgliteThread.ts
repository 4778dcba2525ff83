/**
 * The embedded database's own thread: PGlite (PostgreSQL compiled to WebAssembly) runs here, so
 * that its statements do not share a thread with Refinery's HTTP, parsing and validation. The
 * other side is pglite.ts; the messages are `PgliteCall` and `PgliteReply`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import type { PgliteCall, PgliteReply } from './pglite.ts';

type Tx = Parameters<Parameters<PGlite['transaction']>[0]>[0];

const port = parentPort!;
const send = (reply: PgliteReply) => port.postMessage(reply);

/** An error's message and its PostgreSQL fields (code, detail, …): what survives the thread boundary. */
function plain(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  return { ...Object.fromEntries(Object.entries(err).filter(([, v]) => v === null || typeof v !== 'object')), message: err.message };
}

const pglite = await PGlite.create((workerData as { dataDir?: string }).dataDir ? { dataDir: (workerData as { dataDir: string }).dataDir } : {});
/** Open transactions by their number: how to end each, and its outcome. */
const open = new Map<number, { tx: Tx; end: (commit: boolean) => void; ended: Promise<void> }>();
const listening = new Map<string, () => Promise<void>>();
const rolledBack = Symbol('rollback');

async function answer(call: PgliteCall): Promise<unknown> {
  switch (call.op) {
    case 'query': {
      const target = call.tx === undefined ? pglite : open.get(call.tx)!.tx;
      const result = await target.query(call.sql, call.params);
      // PGlite reports affectedRows 0 for a SELECT; pg's rowCount is the rows returned.
      return { rows: result.rows, rowCount: result.affectedRows || result.rows.length };
    }
    case 'exec':
      await (call.tx === undefined ? pglite : open.get(call.tx)!.tx).exec(call.sql);
      return null;
    case 'begin':
      return new Promise<null>((began, failed) => {
        let end!: (commit: boolean) => void;
        const decided = new Promise<boolean>((r) => (end = r));
        const ended = pglite
          .transaction(async (tx) => {
            open.set(call.tx, { tx, end, ended });
            began(null);
            if (!(await decided)) throw rolledBack;
          })
          .catch((err) => {
            if (err !== rolledBack) throw err;
          });
        ended.catch(failed);
      });
    case 'end': {
      const t = open.get(call.tx)!;
      open.delete(call.tx);
      t.end(call.commit);
      await t.ended;
      return null;
    }
    case 'listen':
      if (!listening.has(call.channel)) listening.set(call.channel, await pglite.listen(call.channel, (payload) => send({ notify: call.channel, payload })));
      return null;
    case 'unlisten':
      await listening.get(call.channel)?.();
      listening.delete(call.channel);
      return null;
    case 'close':
      await pglite.close();
      return null;
  }
}

port.on('message', (call: PgliteCall) => {
  answer(call).then(
    (result) => send({ id: call.id, result }),
    (err) => send({ id: call.id, error: plain(err) }),
  );
});
send({ ready: true });
