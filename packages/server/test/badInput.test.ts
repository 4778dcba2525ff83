import assert from 'node:assert/strict';
import { it } from 'node:test';
import { signRequest } from '@refinery/protocol';
import { registerDestinyRobot } from './support/destiny.ts';
import { describeEachBackend, references, type Harness } from './support/harness.ts';

// Bad input thrown at every endpoint: each answer is a 4xx with {"error":{"code","message"}},
// none is a 5xx, and the database is exactly as it was before.

type Answer = { status: number; body: any };

interface Case {
  name: string;
  /** The status expected, when the contract says which; any 4xx otherwise. */
  status?: number | number[];
  send(): Promise<Answer>;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  try {
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The tables whose every row is compared: all of them but `robot_nonces`. */
const mustCover = ['records', 'record_identifiers', 'robots', 'robot_secrets', 'requests', 'items', 'batches', 'enhancements', 'events', 'api_keys'];

async function snapshot(h: Harness): Promise<Record<string, { rows: number; md5: string | null }>> {
  const db = h.refinery.ctx.db;
  const { rows: tables } = await db.query<{ name: string }>(`select table_name::text as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`);
  // robot_nonces is left out on purpose: every correctly signed robot call records its nonce
  // there (that is how replays are refused), and several cases below are correctly signed calls
  // carrying bad input. Those rows are expected; nothing else may change.
  const names = tables.map((t) => t.name).filter((n) => n !== 'robot_nonces');
  for (const t of mustCover) assert.ok(names.includes(t), `table ${t} exists`);
  const out: Record<string, { rows: number; md5: string | null }> = {};
  for (const name of names) {
    const { rows } = await db.query<{ rows: number; md5: string | null }>(`select count(*)::int as rows, md5(string_agg(t::text, '' order by t::text)) as md5 from "${name}" t`);
    out[name] = rows[0];
  }
  return out;
}

describeEachBackend('bad input', (h) => {
  it('answers every bad input with a 4xx and {"error":{"code","message"}}, never a 5xx, and changes nothing', async () => {
    const base = h().url;
    const unknownId = '01890000-0000-7000-8000-000000000000';

    // Real neighbours for the "unknown id" and "other" cases.
    const robot = await h().createRobot({ produces: [{ type: 'annotation', schema: { type: 'object', properties: { score: { type: 'number' } } } }] });
    const paused = await h().createRobot();
    assert.equal((await h().api('PATCH', `/v1/robots/${paused.id}`, { body: { active: false } })).status, 200);
    // One record's content is a bare JSON string (valid, and a case the COPY path once mangled).
    const recordIds = await h().importRecords([...references(2), { type: 'reference', identifiers: [{ type: 'isbn', value: `bad-input-${Date.now()}` }], content: 'just a "string"\\ \t' }]);
    assert.equal((await h().api('GET', `/v1/records/${recordIds[2]}`)).body.content, 'just a "string"\\ \t');
    const requesterB = (await h().api('POST', '/v1/api-keys', { body: { name: 'requester-b', role: 'requester' } })).body.key as string;
    const created = await h().api('POST', '/v1/requests', { headers: { 'idempotency-key': 'setup-key' }, body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(created.status, 202);
    const requestId: string = created.body.id;
    const leased = await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=1');
    assert.equal(leased.status, 200);
    const batch = leased.body as { id: string; lease_token: string; items_url: string; results_url: string };

    /** A correctly signed robot call with a raw body (so that the body itself can be bad). */
    const signed = async (method: string, path: string, raw = '', contentType = 'application/json', who: { id: string; secret: string } = robot) => {
      const url = base + path;
      const headers: Record<string, string> = signRequest({ method, url, body: raw, keyId: who.id, secret: who.secret });
      if (raw) headers['content-type'] = contentType;
      return answer(await fetch(url, { method, headers, body: raw || undefined }));
    };
    const api = (method: string, path: string, options?: Parameters<Harness['api']>[2]) => h().api(method, path, options);
    const raw = (method: string, path: string, body: string, contentType?: string) => api(method, path, { raw: body, headers: contentType ? { 'content-type': contentType } : {} });
    const record = (extra: Record<string, unknown> = {}) => ({ type: 'reference', identifiers: [{ type: 'doi', value: `10.1000/bad/${Math.random()}` }], content: { title: 'x' }, ...extra });
    const newRobot = (extra: Record<string, unknown> = {}) => ({ name: `bad-robot-${Math.random().toString(36).slice(2)}`, accepts: ['reference'], produces: [{ type: 'annotation' }], ...extra });
    const newRequest = (extra: Record<string, unknown> = {}) => ({ robot_id: robot.id, record_ids: recordIds, ...extra });
    const cursorOf = (k: unknown) => Buffer.from(JSON.stringify({ k })).toString('base64url');
    const tamper = (url: string, change: (q: URLSearchParams) => void) => {
      const u = new URL(url);
      change(u.searchParams);
      return u.toString();
    };

    const cases: Case[] = [
      // ── records ──
      { name: 'records: malformed JSON array', status: 400, send: () => raw('POST', '/v1/records', '[{"type": "reference", "identifiers": [', 'application/json') },
      { name: 'records: JSONL with a bad second line', status: 400, send: () => raw('POST', '/v1/records', `${JSON.stringify(record())}\n{"type": nope}\n`, 'application/x-ndjson') },
      { name: 'records: a record without identifiers', status: 400, send: () => api('POST', '/v1/records', { body: [{ type: 'reference', content: {} }] }) },
      { name: 'records: empty identifiers', status: 400, send: () => api('POST', '/v1/records', { body: [record({ identifiers: [] })] }) },
      { name: 'records: an unknown field', status: 400, send: () => api('POST', '/v1/records', { body: [record({ colour: 'red' })] }) },
      { name: 'records: type is a number', status: 400, send: () => api('POST', '/v1/records', { body: [record({ type: 5 })] }) },
      { name: 'records: visibility not one of the three', status: 400, send: () => api('POST', '/v1/records', { body: [record({ visibility: 'secret' })] }) },
      { name: 'records: expires_at not a time', status: 400, send: () => api('POST', '/v1/records', { body: [record({ expires_at: 'tomorrow' })] }) },
      { name: 'records: expires_at in year 0', send: () => api('POST', '/v1/records', { body: [record({ expires_at: '0000-01-01T00:00:00Z' })] }) },
      { name: 'records: a good record, then a bad one (all or nothing)', status: 400, send: () => api('POST', '/v1/records', { body: [record(), record({ identifiers: 'doi:1' })] }) },
      { name: 'records: an object, not an array', status: 400, send: () => api('POST', '/v1/records', { body: record() }) },
      { name: 'records: an empty array', status: 400, send: () => api('POST', '/v1/records', { body: [] }) },
      { name: 'records: NUL in an identifier value', send: () => api('POST', '/v1/records', { body: [record({ identifiers: [{ type: 'doi', value: 'a\u0000b' }] })] }) },
      { name: 'records: NUL in content', send: () => api('POST', '/v1/records', { body: [record({ content: { title: 'a\u0000b' } })] }) },
      { name: 'records: a JSONL line over 1 MiB', status: 413, send: () => raw('POST', '/v1/records', JSON.stringify(record({ content: 'x'.repeat(1024 * 1024 + 10) })) + '\n', 'application/x-ndjson') },
      { name: 'records: text/csv', status: 415, send: () => raw('POST', '/v1/records', 'type,doi\nreference,10.1/x\n', 'text/csv') },
      { name: 'records: no content type', status: [400, 415], send: () => http(`${base}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${h().adminKey}` }, body: new TextEncoder().encode(JSON.stringify([record()])) }) },
      { name: 'records: content nested 100000 deep', send: () => raw('POST', '/v1/records', `[{"type":"reference","identifiers":[{"type":"doi","value":"10.1/deep"}],"content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]`, 'application/json') },
      { name: 'records: text/plain', status: 415, send: () => raw('POST', '/v1/records', JSON.stringify([record()]), 'text/plain') },
      { name: 'records: no API key', status: 401, send: () => api('POST', '/v1/records', { key: null, body: [record()] }) },
      { name: 'records: an unknown API key', status: 401, send: () => api('POST', '/v1/records', { key: 'rk_nobody', body: [record()] }) },
      { name: 'GET record: a bad uuid', status: 400, send: () => api('GET', '/v1/records/not-a-uuid') },
      { name: 'GET record: an unknown uuid', status: 404, send: () => api('GET', `/v1/records/${unknownId}`) },
      { name: 'GET records: cursor=xyz', status: 400, send: () => api('GET', '/v1/records?cursor=xyz') },
      { name: 'GET records: a well-formed cursor over a non-uuid', status: 400, send: () => api('GET', `/v1/records?cursor=${cursorOf('abc')}`) },
      { name: 'GET records: limit=0', status: 400, send: () => api('GET', '/v1/records?limit=0') },
      { name: 'GET records: limit=100000', status: 400, send: () => api('GET', '/v1/records?limit=100000') },
      { name: 'GET records: limit=abc', status: 400, send: () => api('GET', '/v1/records?limit=abc') },
      { name: 'GET records: identifier without a type', status: 400, send: () => api('GET', '/v1/records?identifier=nocolon') },
      { name: 'GET records: an unknown query parameter', status: 400, send: () => api('GET', '/v1/records?colour=red') },
      { name: 'GET records: NUL in an identifier lookup', send: () => api('GET', '/v1/records?identifier=doi:a%00b') },
      { name: 'GET record: a badly percent-encoded path', status: 400, send: () => api('GET', '/v1/records/%E0%A4%A') },
      { name: 'GET record: an id longer than any route allows', send: () => api('GET', `/v1/records/${'a'.repeat(600)}`) },

      // ── robots ──
      { name: 'robots: a name with a slash', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ name: 'bad/name' }) }) },
      { name: 'robots: an empty name', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ name: '' }) }) },
      { name: 'robots: a name taken already', status: 409, send: () => api('POST', '/v1/robots', { body: newRobot({ name: robot.name }) }) },
      { name: 'robots: an unknown field', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ colour: 'red' }) }) },
      { name: 'robots: max_batch_size 0', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ max_batch_size: 0 }) }) },
      { name: 'robots: max_batch_size 1e9', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ max_batch_size: 1e9 }) }) },
      { name: 'robots: max_batch_size 2.5', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ max_batch_size: 2.5 }) }) },
      { name: 'robots: max_attempts as a string', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ max_attempts: '3' }) }) },
      { name: 'robots: lease "PT"', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ lease: 'PT' }) }) },
      { name: 'robots: lease "10 minutes"', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ lease: '10 minutes' }) }) },
      { name: 'robots: lease PT0S', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ lease: 'PT0S' }) }) },
      { name: 'robots: lease P2D (over 24 hours)', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ lease: 'P2D' }) }) },
      { name: 'robots: a produces schema that does not compile', status: 422, send: () => api('POST', '/v1/robots', { body: newRobot({ produces: [{ type: 'annotation', schema: { type: 'nonsense' } }] }) }) },
      { name: 'robots: a produces schema with a broken pattern', status: 422, send: () => api('POST', '/v1/robots', { body: newRobot({ produces: [{ type: 'annotation', schema: { type: 'string', pattern: '(' } }] }) }) },
      { name: 'robots: the same produced type twice', status: 422, send: () => api('POST', '/v1/robots', { body: newRobot({ produces: [{ type: 'annotation' }, { type: 'annotation' }] }) }) },
      { name: 'robots: accepts nothing', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ accepts: [] }) }) },
      { name: 'robots: push delivery to ftp://', status: 400, send: () => api('POST', '/v1/robots', { body: newRobot({ delivery: { mode: 'push', url: 'ftp://example.com/robot' } }) }) },
      { name: 'robots: NUL in owner', send: () => api('POST', '/v1/robots', { body: newRobot({ owner: 'a\u0000b' }) }) },
      { name: 'robots: body is JSON null', status: 400, send: () => raw('POST', '/v1/robots', 'null', 'application/json') },
      { name: 'robots: empty JSON body', status: 400, send: () => raw('POST', '/v1/robots', '', 'application/json') },
      { name: 'robots: malformed JSON', status: 400, send: () => raw('POST', '/v1/robots', '{"name": "x",', 'application/json') },
      { name: 'robots: a body over 1 MiB', status: 413, send: () => api('POST', '/v1/robots', { body: newRobot({ description: 'x'.repeat(1024 * 1024 + 10) }) }) },
      { name: 'robots: application/xml', status: 415, send: () => raw('POST', '/v1/robots', '<robot/>', 'application/xml') },
      { name: 'robots: a requester key', status: 403, send: () => api('POST', '/v1/robots', { key: requesterB, body: newRobot() }) },
      { name: 'PATCH robot: an empty body', status: 400, send: () => api('PATCH', `/v1/robots/${robot.id}`, { body: {} }) },
      { name: 'PATCH robot: active "no"', status: 400, send: () => api('PATCH', `/v1/robots/${robot.id}`, { body: { active: 'no' } }) },
      { name: 'PATCH robot: an unknown robot', status: 404, send: () => api('PATCH', `/v1/robots/${unknownId}`, { body: { active: false } }) },
      { name: 'PATCH robot: a bad uuid', status: 400, send: () => api('PATCH', '/v1/robots/123', { body: { active: false } }) },
      { name: 'PATCH robot: a name taken by another robot', status: 409, send: () => api('PATCH', `/v1/robots/${robot.id}`, { body: { name: paused.name } }) },
      { name: 'PATCH robot: a lease of "soon"', status: 400, send: () => api('PATCH', `/v1/robots/${robot.id}`, { body: { lease: 'soon' } }) },
      { name: 'GET robots: cursor=xyz', status: 400, send: () => api('GET', '/v1/robots?cursor=xyz') },
      { name: 'GET robot: an unknown uuid', status: 404, send: () => api('GET', `/v1/robots/${unknownId}`) },
      { name: 'rotate secret: grace "forever"', status: 400, send: () => api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: 'forever' } }) },
      { name: 'rotate secret: grace P365D', status: 400, send: () => api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: 'P365D' } }) },
      { name: 'rotate secret: an unknown field', status: 400, send: () => api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: 'PT1M', now: true } }) },
      { name: 'rotate secret: an unknown robot', status: 404, send: () => api('POST', `/v1/robots/${unknownId}/secrets`, { body: { grace: 'PT1M' } }) },

      // ── requests ──
      { name: 'requests: record ids that are not uuids', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ record_ids: ['1', '2'] }) }) },
      { name: 'requests: an unknown robot', status: 422, send: () => api('POST', '/v1/requests', { body: newRequest({ robot_id: unknownId }) }) },
      { name: 'requests: a paused robot', status: 422, send: () => api('POST', '/v1/requests', { body: newRequest({ robot_id: paused.id }) }) },
      { name: "requests: priority 'urgent'", status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ priority: 'urgent' }) }) },
      { name: 'requests: expires_at in the past', status: 422, send: () => api('POST', '/v1/requests', { body: newRequest({ expires_at: '2001-01-01T00:00:00Z' }) }) },
      { name: 'requests: expires_at not a time', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ expires_at: 'soon' }) }) },
      { name: 'requests: record_ids empty', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ record_ids: [] }) }) },
      { name: 'requests: record_ids a string', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ record_ids: recordIds[0] }) }) },
      { name: 'requests: robot_id missing', status: 400, send: () => api('POST', '/v1/requests', { body: { record_ids: recordIds } }) },
      { name: 'requests: an unknown field', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ urgent: true }) }) },
      { name: 'requests: callback_url not http', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ callback_url: 'javascript:alert(1)' }) }) },
      { name: 'requests: an empty Idempotency-Key', status: 400, send: () => api('POST', '/v1/requests', { headers: { 'idempotency-key': '' }, body: newRequest() }) },
      { name: 'requests: an Idempotency-Key of 201 characters', status: 400, send: () => api('POST', '/v1/requests', { headers: { 'idempotency-key': 'k'.repeat(201) }, body: newRequest() }) },
      { name: 'requests: an Idempotency-Key reused with another body', status: 422, send: () => api('POST', '/v1/requests', { headers: { 'idempotency-key': 'setup-key' }, body: newRequest({ priority: 'high' }) }) },
      { name: 'requests: a JSON array body', status: 400, send: () => api('POST', '/v1/requests', { body: [newRequest()] }) },
      { name: 'requests: a body over the 64 MiB limit', status: 413, send: () => raw('POST', '/v1/requests', `{"robot_id":"${robot.id}","record_ids":[]}` + ' '.repeat(64 * 1024 * 1024 + 1), 'application/json') },
      { name: 'requests: record_ids of numbers', status: 400, send: () => api('POST', '/v1/requests', { body: newRequest({ record_ids: [recordIds[0], 7] }) }) },
      { name: 'requests: record_ids given twice', status: 400, send: () => raw('POST', '/v1/requests', `{"robot_id":"${robot.id}","record_ids":["${recordIds[0]}"],"record_ids":["${recordIds[0]}"]}`, 'application/json') },
      { name: 'requests: a body cut off in the middle of the ids', status: 400, send: () => raw('POST', '/v1/requests', `{"robot_id":"${robot.id}","record_ids":["${recordIds[0]}",`, 'application/json') },
      { name: 'requests: an object after the body', status: 400, send: () => raw('POST', '/v1/requests', JSON.stringify(newRequest()) + '{}', 'application/json') },
      { name: 'requests: an empty body', status: 400, send: () => raw('POST', '/v1/requests', '', 'application/json') },
      { name: 'requests: a "__proto__" field', status: 400, send: () => raw('POST', '/v1/requests', `{"robot_id":"${robot.id}","record_ids":["${recordIds[0]}"],"__proto__":{"priority":"high"}}`, 'application/json') },
      { name: 'GET request: a bad uuid', status: 400, send: () => api('GET', '/v1/requests/zzz') },
      { name: 'GET request: an unknown uuid', status: 404, send: () => api('GET', `/v1/requests/${unknownId}`) },
      { name: 'GET items: an unknown request', status: 404, send: () => api('GET', `/v1/requests/${unknownId}/items`) },
      { name: 'GET items: cursor=xyz', status: 400, send: () => api('GET', `/v1/requests/${requestId}/items?cursor=xyz`) },
      { name: 'GET items: a well-formed cursor over a non-number', status: 400, send: () => api('GET', `/v1/requests/${requestId}/items?cursor=${cursorOf('abc')}`) },
      { name: 'GET items: a cursor beyond bigint', status: 400, send: () => api('GET', `/v1/requests/${requestId}/items?cursor=${cursorOf('9'.repeat(30))}`) },
      { name: 'GET items: status=done', status: 400, send: () => api('GET', `/v1/requests/${requestId}/items?status=done`) },
      { name: 'GET items: limit=100000', status: 400, send: () => api('GET', `/v1/requests/${requestId}/items?limit=100000`) },
      { name: 'GET batches of a request: cursor=xyz', status: 400, send: () => api('GET', `/v1/requests/${requestId}/batches?cursor=xyz`) },
      { name: 'GET requests: limit=0', status: 400, send: () => api('GET', '/v1/requests?limit=0') },
      { name: 'GET requests: robot_id not a uuid', status: 400, send: () => api('GET', '/v1/requests?robot_id=robot-1') },
      { name: 'GET requests: status=pending (an item status)', status: 400, send: () => api('GET', '/v1/requests?status=pending') },
      { name: 'GET requests: an empty cursor', status: 400, send: () => api('GET', '/v1/requests?cursor=') },
      { name: 'GET requests: a cursor of 300 characters', status: 400, send: () => api('GET', `/v1/requests?cursor=${'a'.repeat(300)}`) },
      { name: 'GET requests: a cursor holding an object', status: 400, send: () => api('GET', `/v1/requests?cursor=${cursorOf({ id: 1 })}`) },

      // ── batches (robots, signed) ──
      { name: 'lease: unsigned', status: 401, send: () => http(`${base}/v1/batches/lease`, { method: 'POST' }) },
      { name: 'lease: limit=0', status: 400, send: () => signed('POST', '/v1/batches/lease?limit=0') },
      { name: 'lease: limit=1000000', status: 400, send: () => signed('POST', '/v1/batches/lease?limit=1000000') },
      { name: 'lease: wait=PT5M (over 60 s)', status: 400, send: () => signed('POST', '/v1/batches/lease?wait=PT5M') },
      { name: 'lease: lease=abc', status: 400, send: () => signed('POST', '/v1/batches/lease?lease=abc') },
      { name: 'lease: lease=0', status: 400, send: () => signed('POST', '/v1/batches/lease?lease=0') },
      { name: 'lease: lease=P3D', status: 400, send: () => signed('POST', '/v1/batches/lease?lease=P3D') },
      { name: 'lease: an unknown query parameter', status: 400, send: () => signed('POST', '/v1/batches/lease?limit=1&colour=red') },
      { name: 'GET batch: a bad uuid', status: 400, send: () => signed('GET', '/v1/batches/batch-1') },
      { name: 'GET batch: an unknown uuid', status: 404, send: () => signed('GET', `/v1/batches/${unknownId}`) },
      { name: 'renew: lease=-5', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/renew?lease=-5`) },
      { name: 'renew: lease=P2D', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/renew?lease=P2D`) },
      { name: 'renew: an unknown batch', status: 404, send: () => signed('POST', `/v1/batches/${unknownId}/renew`) },
      { name: 'results: lease_token missing', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/results`, '{}') },
      { name: 'results: an unknown field', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: batch.lease_token, done: true })) },
      { name: 'results: malformed JSON', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/results`, '{"lease_token":') },
      { name: 'results: error without a message', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: batch.lease_token, error: { retryable: true } })) },
      { name: 'results: error.retryable "yes"', status: 400, send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: batch.lease_token, error: { message: 'x', retryable: 'yes' } })) },
      { name: 'results: a wrong lease_token', status: 409, send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: 'not-the-token' })) },
      { name: 'results: a wrong lease_token with an error', status: 409, send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: 'not-the-token', error: { message: 'x' } })) },
      { name: 'results: NUL in lease_token', send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: 'a\u0000b' })) },
      { name: 'results: an unknown batch', status: 404, send: () => signed('POST', `/v1/batches/${unknownId}/results`, JSON.stringify({ lease_token: batch.lease_token })) },
      { name: 'results: a body over 64 KiB', status: 413, send: () => signed('POST', `/v1/batches/${batch.id}/results`, JSON.stringify({ lease_token: batch.lease_token, error: { message: 'x'.repeat(70_000) } })) },
      { name: 'results: application/xml', status: 415, send: () => signed('POST', `/v1/batches/${batch.id}/results`, '<results/>', 'application/xml') },

      // ── blobs ──
      { name: 'blob GET: no signature', status: 403, send: () => http(tamper(batch.items_url, (q) => q.delete('signature'))) },
      { name: 'blob GET: a key with ..', status: [403, 404], send: () => http(`${base}/v1/blobs/a/%2E%2E/b?expires=1&signature=x`) },

      // ── api keys, routes, methods ──
      { name: 'api-keys: role root', status: 400, send: () => api('POST', '/v1/api-keys', { body: { name: 'x', role: 'root' } }) },
      { name: 'api-keys: no name', status: 400, send: () => api('POST', '/v1/api-keys', { body: { role: 'requester' } }) },
      { name: 'api-keys: NUL in the name', send: () => api('POST', '/v1/api-keys', { body: { name: 'a\u0000b', role: 'requester' } }) },
      { name: 'DELETE a record (no such route)', status: [404, 405], send: () => api('DELETE', `/v1/records/${recordIds[0]}`) },
      { name: 'PUT /v1/requests (no such route)', status: [404, 405], send: () => api('PUT', '/v1/requests', { body: newRequest() }) },
      { name: 'an unknown route', status: 404, send: () => api('GET', '/v1/nothing-here') },
    ];

    const before = await snapshot(h());
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const c of cases) {
      assert.ok(!seen.has(c.name), `case names are distinct: ${c.name}`);
      seen.add(c.name);
      let res: Answer;
      try {
        res = await c.send();
      } catch (err) {
        problems.push(`${c.name}: the call failed: ${(err as Error).message}`);
        continue;
      }
      const shown = `${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`;
      if (res.status >= 500) problems.push(`${c.name}: a 5xx: ${shown}`);
      else if (res.status < 400) problems.push(`${c.name}: accepted: ${shown}`);
      else if (typeof res.body?.error?.code !== 'string' || typeof res.body.error.message !== 'string' || !res.body.error.message) {
        problems.push(`${c.name}: no {"error":{"code","message"}}: ${shown}`);
      } else if (c.status !== undefined && ![c.status].flat().includes(res.status)) {
        problems.push(`${c.name}: expected ${[c.status].flat().join(' or ')}: ${shown}`);
      }
    }
    assert.ok(cases.length >= 30, `${cases.length} cases`);
    assert.deepEqual(problems, []);

    const after = await snapshot(h());
    assert.deepEqual(after, before, 'the database is unchanged');
    // The blobs the bad PUTs aimed at are untouched too.
    assert.equal((await fetch(batch.results_url.replace('method=PUT', 'method=GET'))).status, 403, 'a PUT URL does not read');
    const items = await (await fetch(batch.items_url)).text();
    assert.equal(JSON.parse(items.trim().split('\n')[0]).record.type, 'reference');
    // And the leased batch still works for its robot.
    assert.equal((await h().robotCall(robot, 'GET', `/v1/batches/${batch.id}`)).body.status, 'leased');
  });

  it('refuses a value no column can hold as sent (NUL, lone surrogate, 1e999) in every JSON body, naming its field, and stores nothing', async () => {
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(1));
    assert.equal((await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } })).status, 202);
    const batch = (await h().robotCall(robot, 'POST', '/v1/batches/lease?limit=1')).body as { id: string; lease_token: string };
    const destinyRobot = await registerDestinyRobot(h());
    const poisons = { 'a NUL': '"a\\u0000b"', 'a lone surrogate': '"a\\ud800b"', '1e999': '1e999' };
    const unique = () => Math.random().toString(36).slice(2, 10);
    // Each body is valid but for the poison in one field, which a text or JSON column would refuse or change (U+FFFD, null).
    const routes: Array<{ method: string; path: string; field: string; body: (poison: string) => string; robotSigned?: boolean; status?: number }> = [
      { method: 'POST', path: '/v1/api-keys', field: 'body.name', body: (p) => `{"name":${p},"role":"requester"}` },
      { method: 'POST', path: '/v1/robots', field: 'body.description', body: (p) => `{"name":"poisoned-${unique()}","accepts":["reference"],"produces":[{"type":"annotation"}],"description":${p}}` },
      { method: 'POST', path: '/v1/robots', field: 'body.produces[0].schema.maximum', body: (p) => `{"name":"poisoned-${unique()}","accepts":["reference"],"produces":[{"type":"annotation","schema":{"type":"number","maximum":${p}}}]}` },
      { method: 'PATCH', path: `/v1/robots/${robot.id}`, field: 'body.owner', body: (p) => `{"owner":${p}}` },
      { method: 'POST', path: `/v1/batches/${batch.id}/results`, field: 'body.error.message', robotSigned: true, body: (p) => `{"lease_token":"${batch.lease_token}","error":{"message":${p}}}` },
      { method: 'POST', path: '/v1/robots/', field: 'body.description', status: 422, body: (p) => `{"name":"poisoned-${unique()}","description":${p},"owner":"tests"}` },
      { method: 'PUT', path: `/v1/robots/${destinyRobot.id}/`, field: 'body.owner', status: 422, body: (p) => `{"name":"${destinyRobot.name}","description":"d","owner":${p}}` },
      { method: 'POST', path: '/v1/enhancement-requests/', field: 'body.source', status: 422, body: (p) => `{"robot_id":"${destinyRobot.id}","reference_ids":["${recordIds[0]}"],"source":${p}}` },
    ];
    const before = await snapshot(h());
    const wrong: string[] = [];
    for (const route of routes) {
      for (const [what, poison] of Object.entries(poisons)) {
        const raw = route.body(poison);
        const url = h().url + route.path;
        const headers: Record<string, string> = { 'content-type': 'application/json', ...(route.robotSigned ? signRequest({ method: route.method, url, body: raw, keyId: robot.id, secret: robot.secret }) : { authorization: `Bearer ${h().adminKey}` }) };
        const res = await answer(await fetch(url, { method: route.method, headers, body: raw }));
        const expected = route.status ?? 400;
        if (res.status !== expected || res.body?.error?.code !== 'invalid_request' || !res.body.error.message.startsWith(`${route.field} `)) {
          wrong.push(`${route.method} ${route.path} with ${what} in ${route.field}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await snapshot(h()), before, 'nothing was stored');
  });
});

async function http(url: string, init?: RequestInit): Promise<Answer> {
  return answer(await fetch(url, init));
}
