import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { apiErrors, itemErrors } from '@refinery/protocol';
import { errorsDoc, errorsDocPath } from '../../../scripts/errorsDoc.ts';
import { checkDeclaredCodes, describeEachBackend } from './support/harness.ts';
import { createRequest, leaseRecords } from './support/lifecycle.ts';

it('docs/errors.md is the one npm run docs:errors makes from the declared codes', () => {
  assert.equal(readFileSync(errorsDocPath, 'utf8'), errorsDoc(), 'docs/errors.md is out of date: run npm run docs:errors');
});

it('an answer with an undeclared error code, or an item with an undeclared error code, fails the test that meets it', () => {
  assert.throws(() => checkDeclaredCodes('GET', '/v1/robots', { error: { code: 'made_up', message: 'x' } }), /"made_up".*does not declare/);
  assert.throws(() => checkDeclaredCodes('GET', '/v1/requests/x/items', { data: [{ error: { code: 'made_up', message: 'x' } }] }), /item error code "made_up"/);
  checkDeclaredCodes('GET', '/v1/requests/x/items', { data: [{ error: { code: 'robot_error', message: 'x' } }, { error: null }] });
  checkDeclaredCodes('GET', '/v1/robots/x', { error: { code: 'not_found', message: 'x' } });
});

describeEachBackend('error codes', (h) => {
  it('the OpenAPI document lists every error code and every item error code', async () => {
    const doc = (await h().api('GET', '/openapi.json')).body;
    const schemas = doc.components.schemas;
    assert.deepEqual(new Set(schemas.ErrorBody.properties.error.properties.code.enum), new Set(Object.keys(apiErrors)));
    const itemCodes = JSON.stringify(doc).match(/"enum":\["record_not_found"[^\]]*\]/)?.[0];
    assert.ok(itemCodes, 'no item error code enum in the OpenAPI document');
    assert.deepEqual(new Set(JSON.parse(`{${itemCodes}}`).enum), new Set(Object.keys(itemErrors)));
  });

  it("answers each refusal with its declared code's status, and items show declared codes", async () => {
    const robot = await h().createRobot();
    const missing = await h().api('GET', '/v1/robots/00000000-0000-7000-8000-000000000000');
    assert.equal(missing.status, apiErrors.not_found.status);
    assert.equal(missing.body.error.code, 'not_found');
    const noKey = await h().api('GET', '/v1/robots', { key: null });
    assert.equal(noKey.status, apiErrors.unauthorized.status);
    // An item a robot fails shows robot_error, and one for a record that does not exist record_not_found.
    const [recordId] = await h().importRecords([{ type: 'reference', identifiers: [{ type: 'doi', value: `10.1/codes-${Date.now()}` }], content: {} }]);
    const requestId = await createRequest(h(), { robot_id: robot.id, record_ids: [recordId, '00000000-0000-7000-8000-000000000001'] });
    const batch = (await leaseRecords(h(), robot, 1))!;
    const failed = await h().robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token, error: { message: 'broke', retryable: false } });
    assert.equal(failed.status, 202);
    const items = await h().api('GET', `/v1/requests/${requestId}/items`);
    assert.deepEqual(items.body.data.map((i: { error: { code: string } | null }) => i.error?.code).sort(), ['record_not_found', 'robot_error']);
  });
});
