import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { destiny } from '@refinery/protocol';
import { strictAjv } from '../src/http/validation.ts';
import { describeEachBackend, eventually, type Harness } from './support/harness.ts';
import { assertModel, destinyCall, models, referencesOf, registerDestinyRobot, toyEnhancement, uploadResults, type DestinyRobot } from './support/destiny.ts';
import { receiver } from './support/receiver.ts';

const isRobotRequest = strictAjv().compile(destiny.RobotRequest);
const advance = (h: Harness, ms: number) => (h.clock as unknown as { advance(ms: number): void }).advance(ms);

/** Checks a delivery as destiny_sdk's HMACAuth would: the signature over the raw body, by the robot's id, with its secret. */
function assertSignedAsDestiny(call: { headers: Record<string, string | string[] | undefined>; body: string }, robot: DestinyRobot): destiny.RobotRequest {
  assert.equal(call.headers['x-client-id'], robot.id);
  const timestamp = call.headers['x-request-timestamp'] as string;
  assert.equal(call.headers.authorization, `Signature ${destiny.destinySignature(robot.client_secret, call.body, robot.id, destiny.pythonFloatRepr(Number(timestamp)))}`);
  const request = JSON.parse(call.body);
  assert.ok(isRobotRequest(request), call.body);
  return request;
}

/** The toy robot's work on a pushed batch: its references, enhanced, uploaded. */
async function enhance(request: destiny.RobotRequest): Promise<string[]> {
  const refs = await referencesOf(request);
  await uploadResults(request, refs.map((r) => toyEnhancement(r.id, `toy ${randomUUID()}`)));
  return refs.map((r) => r.id);
}

async function requestOf(h: Harness, robot: { id: string }, n: number): Promise<string> {
  const ids = await h.importRecords(Array.from({ length: n }, () => ({ type: 'reference', identifiers: [{ type: 'doi', value: `10.5555/${randomUUID()}` }] })));
  const res = await h.api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: ids } });
  assert.equal(res.status, 202);
  return res.body.id;
}

const statusOf = (h: Harness, id: string) => h.api('GET', `/v1/enhancement-requests/${id}/`).then((r) => r.body.request_status as string);

// The first seed's push flow (docs/destiny.md): Refinery POSTs a RobotRequest to the robot's
// <base_url>/batch/, signed as DESTINY signs; the robot answers 202 and posts its RobotResult
// later, or answers 200 with it; Retry-After is honoured as in Refinery's push.
describeEachBackend(
  'DESTINY protocol: pushed robots',
  (h) => {
    it('posts a signed RobotRequest to <base_url>/batch/, honours Retry-After, and takes the RobotResult posted later', async () => {
      const rx = await receiver(({ n }, response) => {
        if (n === 1) response.writeHead(503, { 'retry-after': '30' }).end();
        else response.writeHead(202).end();
      });
      try {
        const robot = await registerDestinyRobot(h(), { base_url: `${rx.url}/robot/` });
        assert.equal(robot.base_url, `${rx.url}/robot/`);
        const requestId = await requestOf(h(), robot, 2);
        assert.deepEqual((await h().refinery.pusher.runOnce()).map((o) => o.outcome), ['deferred']);
        assert.deepEqual(await h().refinery.pusher.runOnce(), [], 'not before Retry-After');
        advance(h(), 31_000);
        assert.deepEqual((await h().refinery.pusher.runOnce()).map((o) => o.outcome), ['accepted']);
        assert.deepEqual(rx.calls.map((c) => c.path), ['/push/robot/batch/', '/push/robot/batch/']);
        const deferred = assertSignedAsDestiny(rx.calls[0], robot);
        const delivered = assertSignedAsDestiny(rx.calls[1], robot);
        const idsOf = async (request: destiny.RobotRequest) => (await referencesOf(request)).map((r) => r.id).sort();
        assert.deepEqual(await idsOf(delivered), await idsOf(deferred), 'the deferred references again');

        await enhance(delivered);
        const result = await destinyCall(h(), robot, 'POST', `/v1/enhancement-requests/${delivered.id}/result/`, { request_id: delivered.id, error: null });
        assert.equal(result.status, 202, result.text);
        assertModel(models.EnhancementRequestRead, result.body);
        assert.equal(await eventually(async () => ((await statusOf(h(), requestId)) === 'completed' ? 'completed' : undefined)), 'completed');
        const again = await destinyCall(h(), robot, 'POST', `/v1/enhancement-requests/${delivered.id}/results/`, { request_id: delivered.id, error: null });
        assert.equal(again.status, 422, 'a second RobotResult imports nothing');
      } finally {
        await rx.close();
      }
    });

    it('takes a RobotResult answered at once (200), and a robot error in it fails the batch', async () => {
      let robot: DestinyRobot;
      const rx = await receiver(async ({ n, body }, response) => {
        const request = JSON.parse(body) as destiny.RobotRequest;
        if (n === 1) await enhance(request);
        const result = n === 1 ? { request_id: request.id, error: null } : { request_id: request.id, error: { message: 'the robot is out of toys' } };
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      });
      try {
        robot = await registerDestinyRobot(h(), { base_url: rx.url });
        const first = await requestOf(h(), robot, 3);
        assert.deepEqual((await h().refinery.pusher.runOnce()).map((o) => o.outcome), ['imported']);
        assert.equal(await eventually(async () => ((await statusOf(h(), first)) === 'completed' ? 'completed' : undefined)), 'completed');
        assert.equal(rx.calls[0].path, '/push/batch/');

        const second = await requestOf(h(), robot, 2);
        assert.deepEqual((await h().refinery.pusher.runOnce()).map((o) => o.outcome), ['failed']);
        assert.equal(await statusOf(h(), second), 'failed');
        const items = (await h().api('GET', `/v1/requests/${second}/items`)).body.data as Array<{ status: string; error: { message: string } }>;
        assert.ok(items.every((i) => i.status === 'failed' && i.error.message.startsWith('the robot is out of toys')), JSON.stringify(items));
      } finally {
        await rx.close();
      }
    });
  },
  { manualClock: true },
);
