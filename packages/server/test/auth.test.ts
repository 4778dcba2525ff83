import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { signRequest } from '@refinery/protocol';
import { recentDefaults } from '../src/auth/recent.ts';
import { sealRobotSecret } from '../src/keys/secrets.ts';
import { describeEachBackend, references, type Harness } from './support/harness.ts';
import { advance } from './support/lifecycle.ts';

// SPEC.md "Robot signatures, exactly" and the Bearer keys: what a signature and a key must hold,
// each signed request built with signRequest and sent with fetch. Attacks on both (replays,
// tampering, another robot's batch or requester's request) are one table in hostileCallers.test.ts.

type Robot = { id: string; secret: string };

async function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers, body: body === undefined || body === '' ? undefined : body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** The headers for a signed call (plus content-type when there is a body). */
function signed(robot: Robot, method: string, url: string, body = '', extra: { created?: number; nonce?: string } = {}): Record<string, string> {
  const headers: Record<string, string> = { ...signRequest({ method, url, body, keyId: robot.id, secret: robot.secret, ...extra }) };
  if (body) headers['content-type'] = 'application/json';
  return headers;
}

/** A refused signature: 401, `bad_signature`, and a message matching `why`. */
function assertBadSignature(res: { status: number; body: any }, why: RegExp): void {
  assert.equal(res.status, 401, JSON.stringify(res.body));
  assert.equal(res.body?.error?.code, 'bad_signature', JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, 'string');
  assert.match(res.body.error.message, why);
}

async function newKey(h: Harness, role: 'requester' | 'admin', name = `${role}-${randomUUID()}`): Promise<string> {
  const res = await h.api('POST', '/v1/api-keys', { body: { name, role } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.key;
}

/** A robot with a leased batch of its own. */
async function robotWithBatch(h: Harness): Promise<{ robot: Robot; batch: any; requestId: string }> {
  const robot = await h.createRobot();
  const recordIds = await h.importRecords(references(2));
  const created = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
  assert.equal(created.status, 202);
  const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?limit=2');
  assert.equal(leased.status, 200);
  return { robot, batch: leased.body, requestId: created.body.id };
}

describeEachBackend('auth: robot signatures (RFC 9421)', (h) => {
  it('accepts a valid signed call (204 with no work, 200 on its own batch)', async () => {
    const robot = await h().createRobot();
    const url = h().url + '/v1/batches/lease';
    assert.equal((await send(url, 'POST', signed(robot, 'POST', url))).status, 204);
    const { robot: owner, batch } = await robotWithBatch(h());
    const batchUrl = `${h().url}/v1/batches/${batch.id}`;
    const got = await send(batchUrl, 'GET', signed(owner, 'GET', batchUrl));
    assert.equal(got.status, 200);
    assert.equal(got.body.id, batch.id);
    const body = JSON.stringify({ lease_token: batch.lease_token, error: { message: 'giving up', retryable: true } });
    const resultsUrl = `${batchUrl}/results`;
    assert.equal((await send(resultsUrl, 'POST', signed(owner, 'POST', resultsUrl, body), body)).status, 202);
  });

  it('refuses an unknown keyid, a wrong secret, a malformed keyid, a bad alg and missing or malformed headers', async () => {
    const robot = await h().createRobot();
    const url = h().url + '/v1/batches/lease';
    assertBadSignature(await send(url, 'POST', signed({ id: randomUUID(), secret: robot.secret }, 'POST', url)), /signature does not match/);
    assertBadSignature(await send(url, 'POST', signed({ id: robot.id, secret: 'rs_not-the-secret' }, 'POST', url)), /signature does not match/);
    assertBadSignature(await send(url, 'POST', signed({ id: 'robot-1', secret: robot.secret }, 'POST', url)), /keyid/);

    const good = signed(robot, 'POST', url);
    for (const name of ['signature', 'signature-input', 'content-digest'] as const) {
      const headers = { ...good };
      delete headers[name];
      assertBadSignature(await send(url, 'POST', headers), new RegExp(`missing ${name} header`));
    }
    assertBadSignature(await send(url, 'POST', {}), /missing signature-input header/);
    assertBadSignature(await send(url, 'POST', { ...good, 'signature-input': 'not a structured field (' }), /structured field/);
    assertBadSignature(await send(url, 'POST', { ...good, signature: 'other=:AAAA:' }), /no byte sequence labelled sig1/);
    assertBadSignature(
      await send(url, 'POST', { ...good, 'signature-input': good['signature-input'].replace('"content-digest"', '') }),
      /must cover "@method" "@target-uri" "content-digest"/,
    );
    assertBadSignature(await send(url, 'POST', { ...good, 'signature-input': good['signature-input'].replace('hmac-sha256', 'hmac-sha512') }), /alg must be "hmac-sha256"/);
    assertBadSignature(await send(url, 'POST', signed(robot, 'POST', url, '', { nonce: 'short' })), /nonce must be at least 16/);
    // A Bearer key is not a robot's signature.
    const bearer = await send(url, 'POST', { authorization: `Bearer ${h().adminKey}` });
    assertBadSignature(bearer, /missing/);
    // None of the refused attempts burnt the good headers' nonce.
    assert.equal((await send(url, 'POST', good)).status, 204);
  });

  it('rotation: old and new secret both work in the grace period; the old stops when it ends', async () => {
    const robot = await h().createRobot();
    const url = h().url + '/v1/batches/lease';
    const works = async (secret: string) => (await send(url, 'POST', signed({ id: robot.id, secret }, 'POST', url))).status;
    const s1 = robot.secret;
    assert.equal(await works(s1), 204);

    const r2 = await h().api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: 'PT1H' } });
    assert.equal(r2.status, 201, JSON.stringify(r2.body));
    const s2: string = r2.body.secret;
    assert.notEqual(s2, s1);
    assert.equal(r2.body.secrets.length, 2);
    assert.equal(await works(s1), 204);
    assert.equal(await works(s2), 204);

    // A rotation while one secret is in its grace period ends that one now (at most two live);
    // the current one gets the new grace period, here 2 seconds.
    const r3 = await h().api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: '2' } });
    assert.equal(r3.status, 201);
    const s3: string = r3.body.secret;
    assert.equal(r3.body.secrets.length, 2);
    assertBadSignature(await send(url, 'POST', signed({ id: robot.id, secret: s1 }, 'POST', url)), /signature does not match/);
    assert.equal(await works(s2), 204);
    assert.equal(await works(s3), 204);
    await new Promise((r) => setTimeout(r, 2300));
    assert.equal(await works(s2), 401);
    assert.equal(await works(s3), 204);
    assert.equal((await h().api('GET', `/v1/robots/${robot.id}`)).body.secrets.length, 1);

    // No grace at all: the previous secret stops at once.
    const r4 = await h().api('POST', `/v1/robots/${robot.id}/secrets`, { body: { grace: 'PT0S' } });
    assert.equal(r4.status, 201);
    assert.equal(await works(s3), 401);
    assert.equal(await works(r4.body.secret), 204);
    assert.equal(r4.body.secrets.length, 1);

    // The default grace (PT1H) when the body is left out.
    const r5 = await h().api('POST', `/v1/robots/${robot.id}/secrets`);
    assert.equal(r5.status, 201, JSON.stringify(r5.body));
    assert.equal(await works(r4.body.secret), 204);
    assert.equal(await works(r5.body.secret), 204);
    const graceEnds = r5.body.secrets.find((s: { expires_at: string | null }) => s.expires_at !== null).expires_at;
    const hour = new Date(graceEnds).getTime() - Date.now();
    assert.ok(hour > 3500_000 && hour <= 3600_000, `grace ends in ${hour} ms`);

    // Another robot's secret never signs for this one.
    const other = await h().createRobot();
    assertBadSignature(await send(url, 'POST', signed({ id: robot.id, secret: other.secret }, 'POST', url)), /signature does not match/);
  });
});

describeEachBackend('auth: Bearer API keys', (h) => {
  it('stores keys hashed: the plaintext appears nowhere in api_keys', async () => {
    const created = await h().api('POST', '/v1/api-keys', { body: { name: 'hashed-check', role: 'requester' } });
    assert.equal(created.status, 201);
    const key: string = created.body.key;
    assert.ok(key.length >= 32);
    const { rows } = await h().refinery.ctx.db.query<{ row: string; key_hash: string }>('select t::text as row, t.key_hash from api_keys t');
    assert.ok(rows.length >= 2, 'the admin key and the new one');
    for (const { row } of rows) {
      assert.ok(!row.includes(key), 'the requester key is stored in plaintext');
      assert.ok(!row.includes(h().adminKey), 'the admin key is stored in plaintext');
    }
    const hash = createHash('sha256').update(key).digest('hex');
    assert.ok(rows.some((r) => r.key_hash === hash));
    // Listing keys never shows them either.
    const listed = await h().api('GET', '/v1/api-keys');
    assert.equal(listed.status, 200);
    assert.ok(!JSON.stringify(listed.body).includes(key));
    assert.ok(listed.body.data.every((k: Record<string, unknown>) => !('key' in k) && !('key_hash' in k)));
    // And the key works.
    assert.equal((await h().api('GET', '/v1/requests', { key })).status, 200);
  });

  it('no key, an unknown key or a malformed header: 401; a requester key on an admin route: 403', async () => {
    const requester = await newKey(h(), 'requester');
    const none = await h().api('GET', '/v1/requests', { key: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'unauthorized');
    assert.match(none.body.error.message, /Bearer/);
    const unknown = await h().api('GET', '/v1/requests', { key: 'rk_not-a-key-anyone-has' });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error.code, 'unauthorized');
    assert.match(unknown.body.error.message, /not valid/);
    for (const authorization of [`Basic ${Buffer.from(`x:${requester}`).toString('base64')}`, 'Bearer', `Bearer ${requester} extra`, requester]) {
      const res = await h().api('GET', '/v1/requests', { key: null, headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.body.error.code, 'unauthorized');
    }
    for (const [method, path, body] of [
      ['POST', '/v1/robots', { name: 'sneaky', accepts: ['reference'], produces: [{ type: 'annotation' }] }],
      ['GET', '/v1/robots', undefined],
      ['POST', '/v1/api-keys', { name: 'escalate', role: 'admin' }],
      ['GET', '/v1/api-keys', undefined],
    ] as const) {
      const res = await h().api(method, path, { key: requester, body });
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'forbidden');
    }
    assert.equal((await h().refinery.ctx.db.query(`select 1 from robots where name = 'sneaky'`)).rows.length, 0);
    assert.equal((await h().refinery.ctx.db.query(`select 1 from api_keys where name = 'escalate'`)).rows.length, 0);
    // A requester may do requester things.
    assert.equal((await h().api('GET', '/v1/records', { key: requester })).status, 200);
  });

  // What B may not read of A's: hostileCallers.test.ts.
  it('a requester sees its own requests; the admin sees all', async () => {
    const a = await newKey(h(), 'requester');
    const b = await newKey(h(), 'requester');
    const robot = await h().createRobot();
    const recordIds = await h().importRecords(references(3));
    const made = await h().api('POST', '/v1/requests', { key: a, body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(made.status, 202);
    const id: string = made.body.id;
    const mine = await h().api('POST', '/v1/requests', { key: b, body: { robot_id: robot.id, record_ids: recordIds.slice(0, 1) } });
    assert.equal(mine.status, 202);

    for (const path of [`/v1/requests/${id}`, `/v1/requests/${id}/items`, `/v1/requests/${id}/batches`]) {
      assert.equal((await h().api('GET', path, { key: a })).status, 200, `A on ${path}`);
      assert.equal((await h().api('GET', path)).status, 200, `admin on ${path}`);
    }
    // Not in B's list (with or without filters); in A's and the admin's.
    const listOf = async (key: string | undefined, query = '') => ((await h().api('GET', `/v1/requests${query}`, { key })).body.data as Array<{ id: string }>).map((r) => r.id);
    assert.deepEqual(await listOf(b), [mine.body.id]);
    assert.deepEqual(await listOf(b, `?robot_id=${robot.id}`), [mine.body.id]);
    assert.deepEqual(await listOf(a), [id]);
    const all = await listOf(undefined);
    assert.ok(all.includes(id) && all.includes(mine.body.id));
    // An Idempotency-Key is per requester: B reusing A's key does not get A's request.
    const keyed = await h().api('POST', '/v1/requests', { key: a, headers: { 'idempotency-key': 'shared-key' }, body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(keyed.status, 202);
    const other = await h().api('POST', '/v1/requests', { key: b, headers: { 'idempotency-key': 'shared-key' }, body: { robot_id: robot.id, record_ids: recordIds } });
    assert.equal(other.status, 202);
    assert.notEqual(other.body.id, keyed.body.id);
  });
});

// On a clock that stands still (the test moves it): with the system clock, a second could tick
// between the test reading the time and the server reading it, and 301 s would then be 300 s.
describeEachBackend(
  'auth: against the server clock',
  (h) => {
    // 301 s off, either way, is refused on every robot route: hostileCallers.test.ts.
    it('accepts a `created` 300 s in the past or in the future', async () => {
      const robot = await h().createRobot();
      const url = h().url + '/v1/batches/lease';
      const now = Math.floor(h().clock.now().getTime() / 1000);
      assert.equal((await send(url, 'POST', signed(robot, 'POST', url, '', { created: now - 300 }))).status, 204);
      assert.equal((await send(url, 'POST', signed(robot, 'POST', url, '', { created: now + 300 }))).status, 204);
    });

    it('a key revoked in the database works at most recentDefaults.ttlMs longer where it was just checked, then 401', async () => {
      const key = await newKey(h(), 'requester');
      assert.equal((await h().api('GET', '/v1/requests', { key })).status, 200);
      const revoked = await h().refinery.ctx.db.query(`update api_keys set revoked_at = now() where key_hash = $1::text`, [createHash('sha256').update(key).digest('hex')]);
      assert.equal(revoked.rowCount, 1);
      assert.equal((await h().api('GET', '/v1/requests', { key })).status, 200, 'taken from the keys checked in the last seconds');
      advance(h(), recentDefaults.ttlMs);
      const refused = await h().api('GET', '/v1/requests', { key });
      assert.equal(refused.status, 401);
      assert.match(refused.body.error.message, /not valid/);
      assert.equal((await h().api('GET', '/v1/requests')).status, 200, 'the admin key still works');
    });

    it('a robot secret ended in the database works at most recentDefaults.ttlMs longer where the robot just signed; a new one works at once', async () => {
      const robot = await h().createRobot();
      const url = h().url + '/v1/batches/lease';
      const status = async (secret: string) => (await send(url, 'POST', signed({ id: robot.id, secret }, 'POST', url))).status;
      const db = h().refinery.ctx.db;
      assert.equal(await status(robot.secret), 204);
      // As another Refinery process would change it: straight in the database.
      const ended = await db.query(`update robot_secrets set expires_at = $2::timestamptz where robot_id = $1::uuid`, [robot.id, h().clock.now().toISOString()]);
      assert.equal(ended.rowCount, 1);
      assert.equal(await status(robot.secret), 204, 'taken from the robot read in the last seconds');
      advance(h(), recentDefaults.ttlMs);
      assert.equal(await status(robot.secret), 401);
      const issued = 'rs_issued_elsewhere_0123456789abcdef';
      await db.query(`insert into robot_secrets (id, robot_id, secret, created_at) values (gen_random_uuid(), $1::uuid, $2::text, $3::timestamptz)`, [robot.id, sealRobotSecret(h().refinery.ctx.keys, robot.id, issued), h().clock.now().toISOString()]);
      assert.equal(await status(issued), 204, 'a secret this process has not read is looked up before refusing');
      assert.equal(await status(robot.secret), 401);
    });
  },
  { manualClock: true },
);
