import assert from 'node:assert/strict';
import { it } from 'node:test';
import { signRequest } from '@refinery/protocol';
import { describeEachBackend } from './support/harness.ts';
import { answer, fillPath, needsCredentials, operations, refusedStatus, sendAsAnyone, type Operation } from './support/routes.ts';

// Who is calling is settled before what was sent is looked at: a caller without a valid key or
// signature learns nothing about a route's schema, on every route the API describes.

/** A call to `op` that its schema refuses, wherever `op` takes input: path, query and body. */
function invalidCall(op: Operation): { path: string; raw?: string; refusedBySchema: boolean } {
  const values = Object.fromEntries(op.parameters.filter((p) => p.in === 'path').map((p) => [p.name, p.schema.format === 'uuid' ? 'not-a-uuid' : 'not valid!']));
  const hasQuery = op.parameters.some((p) => p.in === 'query');
  const path = fillPath(op.path, values) + (hasQuery ? '?limit=0&not_a_parameter=1' : '');
  const takesBody = ['POST', 'PUT', 'PATCH'].includes(op.method);
  return { path, raw: takesBody ? '{"not_a_field": true}' : undefined, refusedBySchema: Object.keys(values).length > 0 || hasQuery || op.body !== undefined };
}

describeEachBackend('authentication before validation', (h) => {
  it('answers 401 to a call without valid credentials on every route that needs them, however invalid the rest of the call', async () => {
    const robot = await h().createRobot();
    const ops = (await operations(h())).filter(needsCredentials);
    assert.ok(ops.length >= 20, `the API describes ${ops.length} routes that need credentials`);
    const wrong: string[] = [];
    for (const op of ops) {
      const call = invalidCall(op);
      const url = h().url + call.path;
      const what = `${op.method} ${call.path}`;
      if (call.refusedBySchema) {
        // The call is really invalid: with credentials, it is refused as such (422 on DESTINY's routes).
        const valid = await sendAsAnyone(h(), robot, op.method, call.path, call.raw);
        if (valid.status !== refusedStatus(op)) wrong.push(`${what} with credentials: ${valid.status} ${JSON.stringify(valid.body)}`);
      }
      const json: Record<string, string> = call.raw === undefined ? {} : { 'content-type': 'application/json' };
      const callers: Array<[string, Record<string, string>]> = [
        ['no credentials', json],
        ['an unknown key', { ...json, authorization: 'Bearer rk_not-a-key-anyone-has' }],
        ['a wrong secret', { ...json, ...signRequest({ method: op.method, url, body: call.raw ?? '', keyId: robot.id, secret: 'rs_not-the-secret' }) }],
        ['a signature over another body', { ...json, ...signRequest({ method: op.method, url, body: '{"lease_token":"x"}', keyId: robot.id, secret: robot.secret }) }],
      ];
      for (const [who, headers] of callers) {
        const res = await answer(await fetch(url, { method: op.method, headers, body: call.raw }));
        if (res.status !== 401 || !['unauthorized', 'bad_signature'].includes(res.body?.error?.code)) wrong.push(`${what} with ${who}: ${res.status} ${res.body?.error?.code}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('answers 403 to a requester key on admin routes, however invalid the body', async () => {
    const requester = (await h().api('POST', '/v1/api-keys', { body: { name: `requester-${Date.now()}`, role: 'requester' } })).body.key as string;
    for (const [method, path] of [
      ['POST', '/v1/robots'],
      ['POST', '/v1/api-keys'],
      ['PATCH', '/v1/robots/01890000-0000-7000-8000-000000000000'],
      ['PUT', '/v1/record-types/reference'],
    ]) {
      const res = await h().api(method, path, { key: requester, body: { not_a_field: true } });
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'forbidden');
    }
  });
});
