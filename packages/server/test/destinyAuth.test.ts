import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { destiny, signRequest } from '@refinery/protocol';
import { describeEachBackend, type Harness } from './support/harness.ts';
import { destinyCall, poll, registerDestinyRobot, toyEnhancement, uploadResults, type DestinyRobot } from './support/destiny.ts';

const nowSeconds = (h: Harness) => h.clock.now().getTime() / 1000;

async function requestFor(h: Harness, robot: { id: string }, n: number): Promise<string[]> {
  const ids = await h.importRecords(Array.from({ length: n }, (_, i) => ({ type: 'reference', identifiers: [{ type: 'doi', value: `10.4321/${randomUUID()}.${i}` }] })));
  const res = await h.api('POST', '/v1/enhancement-requests/', { body: { robot_id: robot.id, reference_ids: ids } });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return ids;
}

// DESTINY's robot authentication over real HTTP (docs/destiny.md): every wrong header is refused
// with 401 and changes nothing; either scheme works on any robot route. Attacks (replays, stale or
// future timestamps, tampering, another robot's batch) are one table in hostileCallers.test.ts.
describeEachBackend(
  'DESTINY protocol: robot authentication and bad input',
  (h) => {
    let robot: DestinyRobot;

    it('refuses every malformed signature with 401, before anything is leased', async () => {
      robot = await registerDestinyRobot(h());
      await requestFor(h(), robot, 3);
      const path = `/v1/robot-enhancement-batches/?robot_id=${robot.id}&limit=10`;
      const now = nowSeconds(h());
      const signed = (timestamp: number) => destiny.signDestinyRequest({ clientId: robot.id, secret: robot.client_secret, timestamp });
      const fresh = signed(now + 0.25);
      const cases: Array<[string, Record<string, string | undefined>, RegExp]> = [
        ['no Authorization', { authorization: undefined }, /^Authorization header missing/],
        ['a scheme in lower case', { authorization: fresh.authorization.replace('Signature', 'signature') }, /^Authorization type not supported/],
        ['a Bearer token', { authorization: 'Bearer abc' }, /^Authorization type not supported/],
        ['no X-Client-Id', { 'x-client-id': undefined }, /^X-Client-Id header missing/],
        ['an X-Client-Id that is no UUID', { 'x-client-id': 'robot-1' }, /^Invalid format for client id/],
        ['an unknown X-Client-Id', { 'x-client-id': randomUUID() }, /^Signature is invalid/],
        ['no X-Request-Timestamp', { 'x-request-timestamp': undefined }, /^X-Request-Timestamp header missing/],
        ['a timestamp that is no number', { 'x-request-timestamp': 'soon' }, /must be a number/],
        ['an infinite timestamp', { ...signed(Infinity), 'x-request-timestamp': 'inf' }, /must be a number/],
        ['a timestamp that is not a number', { 'x-request-timestamp': 'nan' }, /must be a number/],
        ['the signature in upper case', { ...fresh, authorization: fresh.authorization.replace(/[0-9a-f]{64}$/, (hex) => hex.toUpperCase()) }, /^Signature is invalid/],
      ];
      for (const [what, headers, message] of cases) {
        const res = await destinyCall(h(), robot, 'POST', path, undefined, { headers });
        assert.equal(res.status, 401, `${what}: ${res.text}`);
        assert.equal(res.body.error.code, 'bad_signature', what);
        assert.match(res.body.error.message, message, what);
      }
      const batch = await poll(h(), robot, 10);
      assert.ok(batch, 'nothing was leased by the refused polls');
      assert.equal((await (await fetch(batch.reference_storage_url)).text()).trim().split('\n').length, 3);
    });

    it('verifies the timestamp as Python writes the number read: a whole second is signed with ".0"', async () => {
      const whole = Math.floor(nowSeconds(h()));
      const signedAsPython = destiny.signDestinyRequest({ clientId: robot.id, secret: robot.client_secret, timestamp: whole });
      assert.equal(signedAsPython['x-request-timestamp'], `${whole}.0`);
      const path = `/v1/robot-enhancement-batches/?robot_id=${robot.id}`;
      const asPython = await destinyCall(h(), robot, 'POST', path, undefined, { headers: { ...signedAsPython, 'x-request-timestamp': String(whole) } });
      assert.ok([200, 204].includes(asPython.status), asPython.text);
      const signature = destiny.destinySignature(robot.client_secret, '', robot.id, String(whole + 1));
      const asJavaScript = await destinyCall(h(), robot, 'POST', path, undefined, { headers: { authorization: `Signature ${signature}`, 'x-request-timestamp': String(whole + 1) } });
      assert.equal(asJavaScript.status, 401);
    });

    it('takes either scheme on any robot route', async () => {
      await requestFor(h(), robot, 1);
      // A DESTINY robot signing with RFC 9421 on DESTINY's poll.
      const url = `${h().url}/v1/robot-enhancement-batches/?robot_id=${robot.id}&limit=100`;
      const rfc = await fetch(url, { method: 'POST', headers: signRequest({ method: 'POST', url, keyId: robot.id, secret: robot.client_secret, created: Math.floor(nowSeconds(h())) }) });
      assert.equal(rfc.status, 200, await rfc.clone().text());
      // A Refinery robot signing as destiny_sdk does on Refinery's lease.
      const native = await h().createRobot();
      const nativeRequest = await h().api('POST', '/v1/requests', { body: { robot_id: native.id, record_ids: await h().importRecords([{ type: 'reference', identifiers: [{ type: 'doi', value: `10.4321/${randomUUID()}` }] }]) } });
      assert.equal(nativeRequest.status, 202);
      const leased = await destinyCall(h(), { id: native.id, client_secret: native.secret }, 'POST', '/v1/batches/lease?limit=10', undefined, { headers: { 'content-type': undefined } });
      assert.equal(leased.status, 200, leased.text);
      assert.equal(leased.body.item_count, 1);
      // Each robot polls its own protocol's route.
      assert.equal((await destinyCall(h(), { id: native.id, client_secret: native.secret }, 'POST', `/v1/robot-enhancement-batches/?robot_id=${native.id}`)).status, 409);
      assert.equal((await destinyCall(h(), robot, 'POST', '/v1/batches/lease', undefined, { headers: { 'content-type': undefined } })).status, 409);
    });

    it("answers bad input with DESTINY's status codes, in Refinery's error shape, and changes nothing", async () => {
      await requestFor(h(), robot, 1);
      const batch = (await poll(h(), robot, 10))!;
      const results = `/v1/robot-enhancement-batches/${batch.id}/results/`;
      const expectations: Array<[string, Promise<{ status: number; body: any }>, number]> = [
        ['request_id of another batch', destinyCall(h(), robot, 'POST', results, { request_id: randomUUID(), error: null }), 400],
        ['no request_id', destinyCall(h(), robot, 'POST', results, { error: null }), 422],
        ['a body that is not JSON', destinyCall(h(), robot, 'POST', results, undefined, { raw: '{"request_id":' }), 422],
        ['an error without its message', destinyCall(h(), robot, 'POST', results, { request_id: batch.id, error: {} }), 422],
        ['a batch id that is no UUID', destinyCall(h(), robot, 'POST', '/v1/robot-enhancement-batches/batch-1/results/', { request_id: batch.id }), 422],
        ['a poll without robot_id', destinyCall(h(), robot, 'POST', '/v1/robot-enhancement-batches/'), 422],
        ['a poll of limit 0', destinyCall(h(), robot, 'POST', `/v1/robot-enhancement-batches/?robot_id=${robot.id}&limit=0`), 422],
        ['a lease that is no duration', destinyCall(h(), robot, 'POST', `/v1/robot-enhancement-batches/?robot_id=${robot.id}&lease=forever`), 422],
        ['a lease of no time', destinyCall(h(), robot, 'PATCH', `/v1/robot-enhancement-batches/${batch.id}/renew-lease/?lease=PT0S`), 422],
        ['a path without its trailing slash', destinyCall(h(), robot, 'POST', `/v1/robot-enhancement-batches/${batch.id}/results`, { request_id: batch.id, error: null }), 404],
      ];
      for (const [what, call, status] of expectations) {
        const res = await call;
        assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(typeof res.body.error.code, 'string', what);
        assert.equal(typeof res.body.error.message, 'string', what);
      }
      // The batch is untouched: still leased, its results still welcome.
      const refs = (await (await fetch(batch.reference_storage_url)).text()).trim().split('\n').map((l) => JSON.parse(l).id as string);
      await uploadResults(batch, refs.map((id) => toyEnhancement(id)));
      const handed = await destinyCall(h(), robot, 'POST', results, { request_id: batch.id.toUpperCase(), error: null });
      assert.equal(handed.status, 202, JSON.stringify(handed.body));
    });
  },
  { manualClock: true },
);
