import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { addDataKey } from '../src/keys/loadKeyring.ts';
import { parseMasterKey } from '../src/keys/masterKey.ts';
import { createRefinery } from '../src/refinery.ts';
import { availableBackends } from './support/backends.ts';
import { systemClock } from '../src/clock.ts';
import { describeEachBackend, eventually, makeHarness, openHarness, testMasterKey, type Harness } from './support/harness.ts';
import { serveAdminKey, spawnServe } from './support/serveProcess.ts';

// `refinery keys rotate-master` (docs/encryption.md), and the background encryption of the
// records stored before their type was marked encrypted.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cliScript = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const keyText = () => randomBytes(32).toString('base64');

/** `refinery keys rotate-master` in a process of its own; `killAt`: SIGKILL it at its first line of progress past zero. */
function rotate(env: Record<string, string>, killAt?: 'progress'): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(base)) if (/^(REFINERY_|DATABASE_URL$|NODE_TEST_CONTEXT$|NODE_OPTIONS$)/.test(k)) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', cliScript, 'keys', 'rotate-master'], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
    if (killAt && /re-wrapped [1-9]\d* of/.test(stderr)) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}

/** A second Refinery on the harness's database with `masterKey`, listening; or the error that stopped it. */
async function startWith(h: Harness, masterKey: string) {
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: h.dataDir, logLevel: 'silent' }, { REFINERY_MASTER_KEY: masterKey });
  return createRefinery({ config, db: h.refinery.ctx.db, log: pino({ level: 'silent' }), sweep: false });
}

describe('master key rotation (PostgreSQL: processes keep running)', async () => {
  const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
  let opened: Awaited<ReturnType<typeof openHarness>>;
  const oldKey = keyText();
  const newKey = keyText();
  before(async () => {
    if (postgres) opened = await openHarness(postgres, { env: { REFINERY_MASTER_KEY: oldKey } });
  });
  after(async () => {
    await opened?.close();
  });

  it('re-wraps every data key; killed midway it leaves both keys working, and run again it finishes, losing nothing', { skip: !postgres && 'PostgreSQL does not answer' }, async () => {
    const h = opened.harness;
    const robot = await h.createRobot();
    assert.equal((await h.api('PUT', '/v1/record-types/sealed_doc', { body: { encrypted: true } })).status, 200);
    const [recordId] = await h.importRecords([{ type: 'sealed_doc', identifiers: [{ type: 'doc', value: 'rotated' }], content: { title: 'kept through the rotation' } }]);
    // An installation with many data keys, so that the kill lands midway.
    for (let i = 0; i < 1500; i++) await addDataKey(h.refinery.ctx.db, parseMasterKey(oldKey, 'old'), new Date());
    const env = { DATABASE_URL: h.databaseUrl!, REFINERY_MASTER_KEY: oldKey, REFINERY_NEW_MASTER_KEY: newKey };

    const killed = await rotate(env, 'progress');
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);

    // Midway, processes start on the old key and read everything, the new key is not taken yet, and the running process carries on.
    await assert.rejects(startWith(h, newKey), /a rotation has begun but not finished: finish it \(refinery keys rotate-master\)/);
    for (const key of [oldKey]) {
      const other = await startWith(h, key);
      try {
        const url = await other.listen();
        const res = await fetch(`${url}/v1/records/${recordId}`, { headers: { authorization: `Bearer ${h.adminKey}` } });
        assert.deepEqual((await res.json()).content, { title: 'kept through the rotation' });
      } finally {
        await other.close();
      }
    }
    assert.equal((await h.robotCall(robot, 'POST', '/v1/batches/lease')).status, 204, 'the running process still checks signatures');

    const resumed = await rotate(env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /Every data key \(1501\) is wrapped by master key [0-9a-f]{16} alone/);
    const again = await rotate(env);
    assert.equal(again.code, 0, again.stderr);

    const rotated = await startWith(h, newKey);
    try {
      const url = await rotated.listen();
      const res = await fetch(`${url}/v1/records/${recordId}`, { headers: { authorization: `Bearer ${h.adminKey}` } });
      assert.deepEqual((await res.json()).content, { title: 'kept through the rotation' });
    } finally {
      await rotated.close();
    }
    await assert.rejects(startWith(h, oldKey), /REFINERY_MASTER_KEY is not the master key of this database/);
  });
});

describeEachBackend('a record type marked encrypted with records stored', (h) => {
  it('encrypts them in the background, its progress shown on the record type; the content reads the same', async () => {
    const marker = randomBytes(6).toString('hex');
    const records = Array.from({ length: 1200 }, (_, i) => ({ type: 'later_sealed', identifiers: [{ type: 'doc', value: `${marker}-${i}` }], content: { n: i, text: `clear-${marker}` } }));
    const ids = await h().importRecords(records);
    const marked = await h().api('PUT', '/v1/record-types/later_sealed', { body: { encrypted: true } });
    assert.equal(marked.status, 200);
    assert.deepEqual(marked.body.encryption, { status: 'encrypting', records_pending: 1200 });
    assert.deepEqual((await h().api('GET', '/v1/record-types/later_sealed')).body.encryption, { status: 'encrypting', records_pending: 1200 });

    assert.deepEqual(await h().refinery.maintenance.recordSealer.runOnce(), { sealed: 1200 });
    assert.deepEqual((await h().api('GET', '/v1/record-types/later_sealed')).body.encryption, { status: 'encrypted', records_pending: 0 });
    const listed = await h().api('GET', '/v1/record-types');
    assert.ok(listed.body.data.some((t: { type: string; encrypted: boolean }) => t.type === 'later_sealed' && t.encrypted));
    assert.deepEqual((await h().api('GET', `/v1/records/${ids[7]}`)).body.content, { n: 7, text: `clear-${marker}` });
    const { rows } = await h().refinery.ctx.db.query<{ n: number }>(`select count(*)::int as n from records where content::text like $1::text`, [`%clear-${marker}%`]);
    assert.equal(rows[0].n, 0, 'no record keeps its content in clear');

    // Its content cannot be queried; its identifiers can; another type's content can.
    const search = (body: unknown) => h().api('POST', '/v1/records/search', { body });
    for (const query of [`type:later_sealed AND content.n:7`, `content.n:7`, `(type:later_sealed OR type:open_doc) AND content.n:7`]) {
      const refused = await search({ query });
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error.code, 'encrypted_content');
      assert.match(refused.body.error.message, /record type later_sealed is encrypted/);
    }
    assert.equal((await search({ query: `identifier.doc:"${marker}-7"` })).body.data[0].id, ids[7]);
    assert.equal((await h().api('GET', `/v1/records?identifier=doc:${marker}-7`)).body.data[0].id, ids[7]);
    const [open] = await h().importRecords([{ type: 'open_doc', identifiers: [{ type: 'doc', value: `open-${marker}` }], content: { n: 7, marker } }]);
    assert.deepEqual((await search({ query: `type:open_doc AND content.marker:"${marker}"` })).body.data.map((r: { id: string }) => r.id), [open]);

    const off = await h().api('PUT', '/v1/record-types/later_sealed', { body: { encrypted: false } });
    assert.equal(off.status, 422);
    assert.equal(off.body.error.code, 'encryption_is_permanent');
    const empty = await h().api('PUT', '/v1/record-types/later_sealed', { body: {} });
    assert.equal(empty.status, 400);
  });
});

describeEachBackend('secrets stored before encryption at rest', (h) => {
  it('are sealed at the next start, and keep working', async () => {
    const robot = await h().createRobot();
    // As a version before encryption at rest stored it.
    await h().refinery.ctx.db.query(`update robot_secrets set secret = $2::text where robot_id = $1::uuid`, [robot.id, robot.secret]);
    const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: h().dataDir, logLevel: 'silent' }, { REFINERY_MASTER_KEY: testMasterKey });
    const restarted = await createRefinery({ config, db: h().refinery.ctx.db, log: pino({ level: 'silent' }), sweep: false });
    try {
      const url = await restarted.listen();
      const { rows } = await h().refinery.ctx.db.query<{ n: number }>(`select count(*)::int as n from robot_secrets where secret = $1::text`, [robot.secret]);
      assert.equal(rows[0].n, 0, 'the secret is no longer stored in clear');
      const other = makeHarness({ backend: h().backend, refinery: restarted, url, adminKey: h().adminKey, clock: h().clock, databaseUrl: h().databaseUrl, dataDir: h().dataDir });
      assert.equal((await other.robotCall(robot, 'POST', '/v1/batches/lease')).status, 204, 'the robot still signs with it');
    } finally {
      await restarted.close();
    }
  });
});

describe('background encryption killed midway (PostgreSQL, a `refinery serve` process)', async () => {
  const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
  it('resumes at the next start; every record ends sealed whole, its content unchanged', { skip: !postgres && 'PostgreSQL does not answer' }, async () => {
    const opened = await postgres!.open();
    const start = async () => {
      const spawned = spawnServe({ DATABASE_URL: opened.databaseUrl! });
      const url = await spawned.url;
      return { spawned, h: makeHarness({ backend: 'postgres', refinery: undefined as never, url, adminKey: serveAdminKey, clock: systemClock, databaseUrl: opened.databaseUrl, dataDir: '' }) };
    };
    try {
      let { spawned, h } = await start();
      const n = 20_000;
      const ids = await h.importRecords(Array.from({ length: n }, (_, i) => ({ type: 'killed_sealing', identifiers: [{ type: 'doc', value: `k-${i}` }], content: { i, text: `clear text ${i}` } })));
      assert.equal((await h.api('PUT', '/v1/record-types/killed_sealing', { body: { encrypted: true } })).status, 200);
      await eventually(async () => {
        const pending = (await h.api('GET', '/v1/record-types/killed_sealing')).body.encryption.records_pending;
        return pending < n ? true : undefined;
      }, 60_000, 'the background pass to begin');
      spawned.child.kill('SIGKILL');
      await spawned.exit;
      const { rows: midway } = await opened.db.query<{ sealed: number }>(`select count(*) filter (where content_key is not null)::int as sealed from records where type = 'killed_sealing'`);
      ({ spawned, h } = await start());
      try {
        await eventually(async () => ((await h.api('GET', '/v1/record-types/killed_sealing')).body.encryption.status === 'encrypted' ? true : undefined), 120_000, 'the pass to finish');
        // Whole rows: each is sealed (a JSON string) with its key named, or was left in clear and sealed later; none is in between.
        const { rows } = await opened.db.query<{ clear: number; odd: number }>(
          `select (count(*) filter (where content_key is null or jsonb_typeof(content) <> 'string'))::int as clear,
             (count(*) filter (where content::text like '%clear text%'))::int as odd from records where type = 'killed_sealing'`,
        );
        assert.deepEqual(rows[0], { clear: 0, odd: 0 }, `sealed before the kill: ${midway[0].sealed} of ${n}`);
        for (const i of [0, Math.floor(n / 2), n - 1]) assert.deepEqual((await h.api('GET', `/v1/records/${ids[i]}`)).body.content, { i, text: `clear text ${i}` });
        const page = await h.api('GET', '/v1/records?type=killed_sealing&limit=1000');
        assert.ok(page.body.data.every((r: { content: { i: number; text: string } }) => r.content.text === `clear text ${r.content.i}`));
      } finally {
        await spawned.stop();
      }
    } finally {
      await opened.drop();
    }
  });
});
