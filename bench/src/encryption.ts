/**
 * The cost of encryption at rest (docs/encryption.md): one Refinery, toy robots (SDK, pull), and
 * requests of `records` records alternately of a type that is not encrypted and of one marked
 * `encrypted` (its content sealed on import and opened into the items file). Per type: the import,
 * and the request from POST to its final state; the median of `rounds` rounds each. Every blob is
 * encrypted whatever its records' type: `blobSealMsPerMb` is what sealing and opening a megabyte
 * of items file costs, and `blobShare` that cost over the plain run's items, results and report
 * files as a share of its end-to-end time (the unencrypted path's loss).
 */
import { randomBytes } from 'node:crypto';
import { Keyring, openWhole, sealWhole } from '@refinery/server';
import { adminKey, percentile, referenceRecords, spawnToyRobot, startRefinery, stopProcess, untilIdle, type Backend } from './support.ts';

export interface EncryptionRun {
  importSeconds: number;
  endToEndSeconds: number;
  itemsPerSecond: number;
}

export interface EncryptionResult {
  backend: Backend;
  records: number;
  rounds: number;
  plain: EncryptionRun;
  encrypted: EncryptionRun;
  /** Encrypted over plain end-to-end time, less one. */
  endToEndCost: number;
  importCost: number;
  blobSealMsPerMb: number;
  blobShare: number;
}

const median = (xs: number[]) => percentile(xs, 50);

async function* ofType(type: string, n: number, prefix: string) {
  for await (const r of referenceRecords(n, prefix)) yield { ...r, type };
}

/**
 * Sealing and opening items-file-like text, 64 KB at a time; ms per megabyte, the best of 30
 * tries (on a busy machine a single try measures the other processes as much as the cipher).
 */
function blobCipherMsPerMb(): number {
  const keys = new Keyring(new Map([['bench', randomBytes(32)]]), 'bench');
  const piece = Buffer.from('{"record":{"id":"0190a0c4-0000-7000-8000-000000000000","type":"reference","content":{"title":"Reference 1","year":2001}}}\n'.repeat(540));
  const pieces = 16;
  let best = Infinity;
  for (let attempt = 0; attempt < 30; attempt++) {
    const t = performance.now();
    for (let i = 0; i < pieces; i++) openWhole(keys, sealWhole(keys, piece));
    best = Math.min(best, (performance.now() - t) / ((pieces * piece.length) / 1e6));
  }
  return best;
}

export async function encryptionCost(backend: Backend, options: { records: number; robots: number; batchSize: number; rounds: number }): Promise<EncryptionResult> {
  const running = await startRefinery(backend);
  const { client, url } = running;
  try {
    const marked = await fetch(`${url}/v1/record-types/sealed_reference`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ encrypted: true }),
    });
    if (marked.status !== 200) throw new Error(`marking the type encrypted answered ${marked.status}: ${await marked.text()}`);
    const robot = await client.createRobot({ name: `toy-crypt-${Date.now()}`, accepts: ['reference', 'sealed_reference'], produces: [{ type: 'annotation' }], max_batch_size: options.batchSize });
    const children = Array.from({ length: options.robots }, () => spawnToyRobot(url, robot, options.batchSize));
    await untilIdle(children);
    const runs: Record<'plain' | 'encrypted', Array<{ importSeconds: number; endToEndSeconds: number }>> = { plain: [], encrypted: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternate which goes first: the machine's speed drifts within a run.
      const order = round % 2 === 0 ? (['plain', 'encrypted'] as const) : (['encrypted', 'plain'] as const);
      for (const kind of order) {
        let t = performance.now();
        const imported = await client.importRecords(ofType(kind === 'plain' ? 'reference' : 'sealed_reference', options.records, `${kind}-${round}-${Date.now()}`));
        const importSeconds = (performance.now() - t) / 1000;
        t = performance.now();
        const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
        const done = await client.waitForRequest(request.id, { intervalMs: 50 });
        if (done.counts.completed !== options.records) throw new Error(`${kind} request ${request.id} completed ${done.counts.completed} of ${options.records}`);
        runs[kind].push({ importSeconds, endToEndSeconds: (performance.now() - t) / 1000 });
      }
    }
    await Promise.all(children.map(stopProcess));
    const summary = (xs: Array<{ importSeconds: number; endToEndSeconds: number }>): EncryptionRun => {
      const endToEndSeconds = median(xs.map((x) => x.endToEndSeconds));
      return { importSeconds: median(xs.map((x) => x.importSeconds)), endToEndSeconds, itemsPerSecond: options.records / endToEndSeconds };
    };
    const plain = summary(runs.plain);
    const encrypted = summary(runs.encrypted);
    const blobSealMsPerMb = blobCipherMsPerMb();
    // An items line is about 200 bytes; results and report lines as much again together.
    const blobMb = (options.records * 400) / 1e6;
    return {
      backend,
      records: options.records,
      rounds: options.rounds,
      plain,
      encrypted,
      endToEndCost: encrypted.endToEndSeconds / plain.endToEndSeconds - 1,
      importCost: encrypted.importSeconds / plain.importSeconds - 1,
      blobSealMsPerMb,
      blobShare: (blobMb * blobSealMsPerMb) / 1000 / plain.endToEndSeconds,
    };
  } finally {
    await running.close();
  }
}
