import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import pino from 'pino';
import { recentDefaults } from '../src/auth/recent.ts';
import { manualClock, systemClock, type Clock } from '../src/clock.ts';
import { loadConfig } from '../src/config.ts';
import { createRefinery } from '../src/refinery.ts';
import { tempDir } from './support/backends.ts';
import { describeEachBackend, makeHarness, type Harness, testMasterKey } from './support/harness.ts';

// DELETE /v1/api-keys/{id}: revocation, through the process that revoked and through others.

async function newKey(h: Harness, role: 'requester' | 'admin'): Promise<{ id: string; key: string }> {
  const res = await h.api('POST', '/v1/api-keys', { body: { name: `${role}-${randomUUID()}`, role } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function liveKeyIds(h: Harness, role?: 'admin'): Promise<string[]> {
  const res = await h.api('GET', '/v1/api-keys');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.filter((k: { role: string }) => role === undefined || k.role === role).map((k: { id: string }) => k.id);
}

/**
 * Another Refinery process on the same database, with its own cache of keys, its own clock and
 * data directory, and `adminKey` as its REFINERY_ADMIN_KEY (none: it makes or keeps its own).
 */
async function openOtherProcess(h: Harness, options: { adminKey: string | null; clock?: Clock; dir?: { path: string; remove(): Promise<void> } }) {
  const dir = options.dir ?? (await tempDir());
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir.path, logLevel: 'silent', ...(options.adminKey ? { adminKey: options.adminKey } : {}) }, { REFINERY_MASTER_KEY: testMasterKey });
  const clock = options.clock ?? systemClock;
  const refinery = await createRefinery({ config, db: h.refinery.ctx.db, clock, log: pino({ level: 'silent' }), sweep: false }).catch(async (err) => {
    await dir.remove();
    throw err;
  });
  const url = await refinery.listen();
  const adminKey = options.adminKey ?? refinery.newAdminKey!;
  return {
    other: makeHarness({ backend: h.backend, refinery, url, adminKey, clock, databaseUrl: h.databaseUrl, dataDir: dir.path }),
    dir,
    /** Stops it; its data directory stays with `keepDir`. */
    async close(keepDir = false) {
      await refinery.close();
      if (!keepDir) await dir.remove();
    },
  };
}

describeEachBackend('API key revocation', (h) => {
  it('refuses a revoked key at once in the process that revoked it; revoking again answers the same; the key leaves the list', async () => {
    const requester = await newKey(h(), 'requester');
    assert.equal((await h().api('GET', '/v1/requests', { key: requester.key })).status, 200);

    const revoked = await h().api('DELETE', `/v1/api-keys/${requester.id}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.id, requester.id);
    assert.equal(revoked.body.role, 'requester');
    assert.ok(!Number.isNaN(Date.parse(revoked.body.revoked_at)));
    assert.equal(revoked.body.key, undefined, 'never the key itself');

    const refused = await h().api('GET', '/v1/requests', { key: requester.key });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'unauthorized');

    const again = await h().api('DELETE', `/v1/api-keys/${requester.id}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, revoked.body);
    assert.ok(!(await liveKeyIds(h())).includes(requester.id));
  });

  it('lets a key revoke itself, while another admin key is left', async () => {
    const admin = await newKey(h(), 'admin');
    const revoked = await h().api('DELETE', `/v1/api-keys/${admin.id}`, { key: admin.key });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((await h().api('GET', '/v1/api-keys', { key: admin.key })).status, 401);
  });

  it('another process refuses a revoked key once its cache of keys (5 s) has lapsed', async () => {
    const requester = await newKey(h(), 'requester');
    const clock = manualClock();
    const { other, close } = await openOtherProcess(h(), { adminKey: h().adminKey, clock });
    try {
      // The other process has seen the key, so it holds it for up to 5 s.
      assert.equal((await other.api('GET', '/v1/requests', { key: requester.key })).status, 200);
      assert.equal((await h().api('DELETE', `/v1/api-keys/${requester.id}`)).status, 200);
      assert.equal((await h().api('GET', '/v1/requests', { key: requester.key })).status, 401);
      clock.advance(recentDefaults.ttlMs + 1);
      assert.equal((await other.api('GET', '/v1/requests', { key: requester.key })).status, 401);
    } finally {
      await close();
    }
  });

  it('refuses bad revocations with a 4xx and changes nothing', async () => {
    const requester = await newKey(h(), 'requester');
    const before = await liveKeyIds(h());
    const cases: Array<{ name: string; status: number; code: string; send: () => ReturnType<Harness['api']> }> = [
      { name: 'an unknown key', status: 404, code: 'not_found', send: () => h().api('DELETE', `/v1/api-keys/${randomUUID()}`) },
      { name: 'an id that is not a UUID', status: 400, code: 'invalid_request', send: () => h().api('DELETE', '/v1/api-keys/admin') },
      { name: 'by a requester key', status: 403, code: 'forbidden', send: () => h().api('DELETE', `/v1/api-keys/${requester.id}`, { key: requester.key }) },
      { name: 'without a key', status: 401, code: 'unauthorized', send: () => h().api('DELETE', `/v1/api-keys/${requester.id}`, { key: null }) },
      {
        name: 'the key REFINERY_ADMIN_KEY sets',
        status: 409,
        code: 'configured_admin_key',
        send: async () => {
          const self = (await h().api('GET', '/v1/api-keys')).body.data.find((k: { name: string }) => k.name === 'admin (REFINERY_ADMIN_KEY)');
          return h().api('DELETE', `/v1/api-keys/${self.id}`);
        },
      },
    ];
    for (const c of cases) {
      const res = await c.send();
      assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, c.code, c.name);
      assert.equal(typeof res.body.error.message, 'string');
    }
    assert.deepEqual(await liveKeyIds(h()), before);
    assert.equal((await h().api('GET', '/v1/requests', { key: requester.key })).status, 200);
  });

  // Last: it revokes the harness's own admin key.
  it('never revokes the last admin key; a revoked REFINERY_ADMIN_KEY stops a start with a clear message', async () => {
    const second = `second-admin-${randomUUID()}`;
    const p2 = await openOtherProcess(h(), { adminKey: second });
    let secondId = '';
    try {
      // Through a process where it is not REFINERY_ADMIN_KEY, every other admin key can go, the harness's too.
      const keys = await p2.other.api('GET', '/v1/api-keys');
      for (const key of keys.body.data as Array<{ id: string; role: string }>) {
        if (key.role !== 'admin') continue;
        const res = await p2.other.api('DELETE', `/v1/api-keys/${key.id}`);
        if (res.status === 409) {
          assert.equal(res.body.error.code, 'configured_admin_key', 'only its own REFINERY_ADMIN_KEY is kept');
          secondId = key.id;
        } else assert.equal(res.status, 200, JSON.stringify(res.body));
      }
      assert.deepEqual(await liveKeyIds(p2.other, 'admin'), [secondId]);
    } finally {
      await p2.close();
    }

    // A process without REFINERY_ADMIN_KEY makes its own admin key; through it, the second key can go, its own cannot.
    const p3 = await openOtherProcess(h(), { adminKey: null });
    try {
      assert.equal((await p3.other.api('DELETE', `/v1/api-keys/${secondId}`)).status, 200);
      const admins = await liveKeyIds(p3.other, 'admin');
      assert.equal(admins.length, 1);
      const [ownId] = admins;
      const last = await p3.other.api('DELETE', `/v1/api-keys/${ownId}`);
      assert.equal(last.status, 409);
      assert.equal(last.body.error.code, 'last_admin_key');
      assert.match(last.body.error.message, /last admin key/);
      assert.deepEqual(await liveKeyIds(p3.other, 'admin'), [ownId]);

      // Once another admin key is made, it can go; the next start makes and prints a new one.
      const other = await newKey(p3.other, 'admin');
      assert.equal((await p3.other.api('DELETE', `/v1/api-keys/${ownId}`)).status, 200);
      await p3.close(true);
      const restarted = await openOtherProcess(h(), { adminKey: null, dir: p3.dir });
      try {
        assert.notEqual(restarted.other.adminKey, p3.other.adminKey);
        assert.equal((await restarted.other.api('GET', '/v1/api-keys')).status, 200);
        assert.equal((await restarted.other.api('GET', '/v1/api-keys', { key: p3.other.adminKey })).status, 401);
        assert.equal((await restarted.other.api('DELETE', `/v1/api-keys/${other.id}`)).status, 200);
      } finally {
        await restarted.close();
      }
    } finally {
      await p3.close();
    }

    await assert.rejects(openOtherProcess(h(), { adminKey: second }), /REFINERY_ADMIN_KEY is a key that was revoked/);
  });
});
