/**
 * Child process of load.ts: hosts requesters (SDK RefineryClient), each creating small requests
 * one after another (1 to 10 of the given records, for a robot picked at random) until the
 * parent's `stop`. Each create is made once; any answer that is not 2xx, and any exception,
 * counts as an error. Answers with every create's round trip (ms) and the ids it created.
 * Env: REFINERY_URL, API_KEY; the work comes in the first IPC message.
 */
import { RefineryClient } from '@refinery/sdk';

export interface RequesterHostStats {
  creates: number;
  /** Each create's round trip, ms (errors not counted). */
  latenciesMs: number[];
  errors: number;
  errorSamples: string[];
}

interface Work {
  requesters: number;
  robotIds: string[];
  recordIds: string[];
}

const stats: RequesterHostStats = { creates: 0, latenciesMs: [], errors: 0, errorSamples: [] };
let stopping = false;
const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;

async function requesterLoop(client: RefineryClient, work: Work): Promise<void> {
  while (!stopping) {
    const records = new Set<string>();
    const n = 1 + Math.floor(Math.random() * 10);
    while (records.size < n) records.add(pick(work.recordIds));
    const started = performance.now();
    try {
      await client.createRequest({ robot_id: pick(work.robotIds), record_ids: [...records] });
      stats.latenciesMs.push(performance.now() - started);
      stats.creates++;
    } catch (err) {
      stats.errors++;
      if (stats.errorSamples.length < 5) stats.errorSamples.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const loops: Promise<void>[] = [];
process.on('message', async (m: { work?: Work; stop?: boolean }) => {
  if (m.work) {
    for (let i = 0; i < m.work.requesters; i++) loops.push(requesterLoop(new RefineryClient({ url: process.env.REFINERY_URL!, apiKey: process.env.API_KEY! }), m.work));
  }
  if (m.stop) {
    stopping = true;
    await Promise.all(loops);
    process.send!({ stats });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
