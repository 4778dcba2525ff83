/**
 * The toy robot as DESTINY's robots are written (destiny-evidence/toy-robot on destiny_sdk), for
 * the benchmark's end-to-end run with DESTINY's protocol: it polls
 * POST /v1/robot-enhancement-batches/, reads the reference file (one DESTINY Reference a line),
 * PUTs one score annotation per reference as DESTINY Enhancements, and posts the batch's result,
 * every call signed as destiny_sdk signs (docs/destiny.md). A poll answered 204 waits
 * `POLL_INTERVAL_MS` (DESTINY has no long poll). Environment: REFINERY_URL, ROBOT_ID,
 * ROBOT_SECRET, BATCH_SIZE, POLL_INTERVAL_MS.
 */
import { destiny } from '@refinery/protocol';

const url = process.env.REFINERY_URL!;
const robotId = process.env.ROBOT_ID!;
const secret = process.env.ROBOT_SECRET!;
const batchSize = Number(process.env.BATCH_SIZE ?? 1000);
const pollIntervalMs = Number(process.env.POLL_INTERVAL_MS ?? 100);
const toys = ['Woody', 'Jessie', 'Bullseye', 'Buzz Lightyear', 'Rex', 'Hamm', 'Slinky Dog', 'Bo Peep'];

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => (stopping = true));

/** A call as destiny_sdk's RobotClient makes it: JSON content type always, signed over the body's bytes. */
function call(method: string, path: string, body?: unknown): Promise<Response> {
  const text = body === undefined ? '' : JSON.stringify(body);
  return fetch(url + '/v1' + path, {
    method,
    headers: { 'content-type': 'application/json', ...destiny.signDestinyRequest({ clientId: robotId, secret, body: text }) },
    body: text,
  });
}

function enhancementLine(reference: destiny.Reference): string {
  const enhancement: destiny.Enhancement = {
    reference_id: reference.id,
    source: 'Toy Robot',
    visibility: 'public',
    robot_version: '0.2.0',
    content: {
      enhancement_type: 'annotation',
      annotations: [{ annotation_type: 'score', scheme: 'meta:toy', label: 'toy', score: Math.round(Math.random() * 100) / 100, data: { toy: toys[Math.floor(Math.random() * toys.length)] } }],
    },
  };
  return JSON.stringify(enhancement);
}

while (!stopping) {
  const polled = await call('POST', `/robot-enhancement-batches/?robot_id=${robotId}&limit=${batchSize}`);
  if (polled.status === 204) {
    await polled.arrayBuffer();
    await new Promise((r) => setTimeout(r, pollIntervalMs));
    continue;
  }
  if (polled.status !== 200) throw new Error(`poll answered ${polled.status}: ${await polled.text()}`);
  const batch = (await polled.json()) as destiny.RobotEnhancementBatch;
  const references = (await (await fetch(batch.reference_storage_url)).text()).split('\n').filter(Boolean);
  const results = references.map((line) => enhancementLine(JSON.parse(line) as destiny.Reference)).join('\n') + '\n';
  const put = await fetch(batch.result_storage_url, { method: 'PUT', headers: { 'content-type': 'application/jsonl', 'x-ms-blob-type': 'BlockBlob' }, body: results });
  if (!put.ok) throw new Error(`result upload answered ${put.status}`);
  await put.arrayBuffer();
  const handed = await call('POST', `/robot-enhancement-batches/${batch.id}/results/`, { request_id: batch.id, error: null });
  if (handed.status !== 202) throw new Error(`results answered ${handed.status}: ${await handed.text()}`);
  await handed.arrayBuffer();
}
