/**
 * Child process of dispatchLatency.ts: the requester, in a process of its own as in any
 * deployment (in Refinery's process its HTTP client would share the server's event loop). For each
 * message `{ i, recordId }` it creates a one-item request and answers `{ i, sent, createMs }`:
 * when it sent `POST /v1/requests` (`performance.timeOrigin + performance.now()`, comparable
 * across processes on one machine) and how long the create's own round trip took.
 * Env: REFINERY_URL, API_KEY, ROBOT_ID.
 */
import { RefineryClient } from '@refinery/sdk';

const client = new RefineryClient({ url: process.env.REFINERY_URL!, apiKey: process.env.API_KEY! });
process.on('disconnect', () => process.exit(0));
process.on('message', async (m: { i: number; recordId: string }) => {
  const sent = performance.timeOrigin + performance.now();
  await client.createRequest({ robot_id: process.env.ROBOT_ID!, record_ids: [m.recordId] });
  process.send!({ i: m.i, sent, createMs: performance.timeOrigin + performance.now() - sent });
});
process.send!({ ready: true });
