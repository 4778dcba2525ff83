import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, it } from 'node:test';
import { RobotClient } from '@refinery/sdk';
import { describeEachBackend, eventually, references } from './support/harness.ts';

// Traces as an operator's collector receives them: an OTLP/HTTP receiver in this process, set as
// OTEL_EXPORTER_OTLP_ENDPOINT before Refinery starts; real work driven over HTTP; the span tree
// read from what was exported.

type ExportedSpan = { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes: Record<string, unknown>; links: Array<{ traceId: string; spanId: string }> };

const received: ExportedSpan[] = [];
const receiver = createServer(async (request, response) => {
  let text = '';
  for await (const chunk of request) text += chunk;
  assert.equal(request.url, '/v1/traces');
  const body = JSON.parse(text) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<ExportedSpan & { attributes: Array<{ key: string; value: Record<string, unknown> }>; links?: ExportedSpan['links'] }> }> }> };
  for (const rs of body.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        const attributes = Object.fromEntries(span.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
        received.push({ ...span, parentSpanId: span.parentSpanId || undefined, attributes, links: span.links ?? [] });
      }
    }
  }
  response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
process.env.OTEL_BSP_SCHEDULE_DELAY = '100';
after(() => receiver.close());

/** The exported span named `name` whose attribute `key` is `value`, once it has come. */
function spanOf(name: string, where: (s: ExportedSpan) => boolean): Promise<ExportedSpan> {
  return eventually(async () => received.find((s) => s.name === name && where(s)), 20_000, `the span ${name}`);
}

const traceparentOf = (s: ExportedSpan) => `00-${s.traceId}-${s.spanId}-01`;

describeEachBackend('traces', (h) => {
  it("follows a request from its create through the robot's lease to the import of its results", async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(2));
    const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(created.status, 202);

    // The SDK hands the lease's traceparent back with the results post.
    const client = new RobotClient({ url: h().url, robotId: robot.id, secret: robot.secret });
    const batch = (await client.lease())!;
    await client.uploadResults(batch, recordIds.map((record_id) => ({ record_id, type: 'annotation', content: { ok: true } })));
    await client.postResults(batch.id, { lease_token: batch.lease_token });
    await h().refinery.background.drain();

    const lease = await spanOf('refinery.lease', (s) => s.attributes['refinery.batch_id'] === batch.id);
    const create = await spanOf('POST /v1/requests', (s) => s.spanId === lease.parentSpanId);
    const leaseCall = await spanOf('POST /v1/batches/lease', (s) => lease.links.some((l) => l.spanId === s.spanId));
    const resultsCall = await spanOf('POST /v1/batches/:id/results', (s) => s.parentSpanId === lease.spanId);
    const importing = await spanOf('refinery.import', (s) => s.attributes['refinery.batch_id'] === batch.id);

    // One trace: the create, its lease (linked to the robot's call that made it), the robot's results post, the import.
    assert.equal(lease.traceId, create.traceId);
    assert.equal(lease.parentSpanId, create.spanId);
    assert.equal(lease.attributes['refinery.item_count'], 2);
    assert.notEqual(leaseCall.traceId, create.traceId, "the robot's lease call is its own trace, linked");
    assert.equal(resultsCall.traceId, create.traceId);
    assert.equal(importing.parentSpanId, resultsCall.spanId);
    assert.equal(importing.traceId, create.traceId);
    assert.equal(create.attributes['http.route'], '/v1/requests');
    assert.equal(create.attributes['http.response.status_code'], 202);
  });

  it('hands a push robot the traceparent of its delivery, a child of the lease', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const robotServer = createServer(async (request, response) => {
      for await (const _ of request);
      seen.push(request.headers);
      response.writeHead(202).end();
    });
    robotServer.listen(0, '127.0.0.1');
    await once(robotServer, 'listening');
    try {
      const robot = await h().createRobot({ delivery: { mode: 'push', url: `http://127.0.0.1:${(robotServer.address() as AddressInfo).port}/` } });
      const recordIds = await h().importRecords(references(1));
      assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
      await h().refinery.pusher.runOnce();
      assert.equal(seen.length, 1);
      const deliver = await spanOf('refinery.push.deliver', (s) => s.attributes['refinery.robot_id'] === robot.id);
      assert.equal(seen[0].traceparent, traceparentOf(deliver));
      const lease = await spanOf('refinery.lease', (s) => s.spanId === deliver.parentSpanId);
      const create = await spanOf('POST /v1/requests', (s) => s.spanId === lease.parentSpanId);
      assert.equal(deliver.traceId, create.traceId);
      assert.equal(deliver.attributes['refinery.outcome'], 'accepted');
    } finally {
      robotServer.closeAllConnections();
      robotServer.close();
    }
  });
});
