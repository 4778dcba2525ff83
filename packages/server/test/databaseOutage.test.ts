import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { signRequest } from '@refinery/protocol';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config.ts';
import { openPostgres } from '../src/db/postgres.ts';
import { createRefinery, type Refinery } from '../src/refinery.ts';
import { availableBackends, tempDir, testDatabaseUrl } from './support/backends.ts';
import { destinyCall, registerDestinyRobot } from './support/destiny.ts';
import { eventually, makeHarness, openHarness, references, testMasterKey, type Harness } from './support/harness.ts';
import { startServe, type ServeProcess } from './support/serveProcess.ts';
import { tcpProxy, type TcpProxy } from './support/tcpProxy.ts';

// PostgreSQL going away under a running Refinery: its connections terminated by the server
// (pg_terminate_backend, what a restart does to them) and the network to it cut (a TCP proxy
// between Refinery and PostgreSQL, reset and refusing, then restored). No database fault ends the
// process; while the database is away the API answers 503 with Retry-After; once it is back, all
// works again, wake-ups through LISTEN/NOTIFY included.

const postgres = (await availableBackends()).find((b) => b.name === 'postgres');
const skip = postgres ? false : 'PostgreSQL does not answer (never skipped in CI)';
const adminKey = 'test-admin-key-0123456789';

/** Ends every session of `database` on the server, as a restart or an operator would. */
async function terminateBackends(database: string, which = 'true'): Promise<number> {
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query(`select pg_terminate_backend(pid) as ended from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and ${which}`, [database]);
    return rows.filter((r) => r.ended).length;
  } finally {
    await admin.end();
  }
}

/** A Refinery in this process on `databaseUrl`, listening on loopback, with the harness's helpers. */
async function openInstance(databaseUrl: string): Promise<{ harness: Harness; refinery: Refinery; close(): Promise<void> }> {
  const dir = await tempDir();
  const db = await openPostgres({ connectionString: databaseUrl, log: pino({ level: 'silent' }) });
  const config = loadConfig({ port: '0', host: '127.0.0.1', dataDir: dir.path, adminKey, logLevel: 'silent' }, { REFINERY_MASTER_KEY: testMasterKey });
  const refinery = await createRefinery({ config, db, log: pino({ level: process.env.TEST_LOG ?? 'silent' }), sweep: false });
  const url = await refinery.listen();
  const harness = makeHarness({ backend: 'postgres', refinery, url, adminKey, clock: systemClock, databaseUrl, dataDir: dir.path });
  return {
    harness,
    refinery,
    async close() {
      await refinery.close();
      await db.close();
      await dir.remove();
    },
  };
}

const databaseOf = (url: string) => new URL(url).pathname.slice(1);
const target = () => ({ host: new URL(testDatabaseUrl).hostname, port: Number(new URL(testDatabaseUrl).port || 5432) });

/** What a caller sees while the database is away: 503, `unavailable`, and when to come back. */
function assertUnavailable(res: { status: number; body: any; headers?: Headers }, what: string): void {
  assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, 'unavailable', what);
  const retryAfter = res.headers?.get('retry-after');
  assert.match(retryAfter ?? '', /^[1-9]\d*$/, `${what}: Retry-After is ${retryAfter}`);
}

describe('a database outage', { skip }, () => {
  const cleanup: Array<() => Promise<void>> = [];
  /** Refinery A, straight on the database. */
  let a: Harness;
  /** Refinery B, on the same database through a proxy whose network the tests cut. */
  let b: Harness;
  let bRefinery: Refinery;
  let proxy: TcpProxy;
  let database: string;

  before(async () => {
    const opened = await openHarness(postgres!);
    cleanup.unshift(opened.close);
    a = opened.harness;
    database = databaseOf(a.databaseUrl!);
    proxy = await tcpProxy(target());
    cleanup.unshift(() => proxy.close());
    const instance = await openInstance(proxy.via(a.databaseUrl!));
    cleanup.unshift(instance.close);
    b = instance.harness;
    bRefinery = instance.refinery;
  });
  after(async () => {
    for (const step of cleanup) await step().catch((err) => console.error('cleanup failed:', err));
  });

  it('answers 503 with Retry-After while PostgreSQL cannot be reached, and /readyz is unready until it can', async () => {
    const robot = await b.createRobot();
    const destinyRobot = await registerDestinyRobot(b);
    assert.equal((await b.api('GET', '/v1/robots')).status, 200);
    proxy.cut();
    try {
      assertUnavailable(await b.api('GET', '/readyz', { key: null }), '/readyz');
      assertUnavailable(await b.api('GET', '/v1/robots'), 'GET /v1/robots');
      assertUnavailable(await b.api('GET', '/v1/requests', { key: 'rk_a-key-not-yet-checked' }), 'a key it cannot check');
      assertUnavailable(await b.api('POST', '/v1/records', { body: references(3) }), 'POST /v1/records');
      assertUnavailable(await b.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ['01890000-0000-7000-8000-000000000000'] } }), 'POST /v1/requests');
      const url = `${b.url}/v1/batches/lease`;
      const lease = await fetch(url, { method: 'POST', headers: signRequest({ method: 'POST', url, body: '', keyId: robot.id, secret: robot.secret }) });
      assertUnavailable({ status: lease.status, body: await lease.json(), headers: lease.headers }, 'a robot lease');
      // DESTINY's routes, with their own answers to bad input, answer an outage alike.
      assertUnavailable(await destinyCall(b, destinyRobot, 'POST', `/v1/robot-enhancement-batches/?robot_id=${destinyRobot.id}`), 'a DESTINY robot poll');
      assertUnavailable(await b.api('GET', '/v1/enhancement-requests/01890000-0000-7000-8000-000000000000/'), 'a DESTINY request read');
    } finally {
      proxy.restore();
    }
    await eventually(async () => ((await b.api('GET', '/readyz', { key: null })).status === 200 ? true : undefined), 15_000, '/readyz ready again');
    assert.equal((await b.api('GET', '/v1/robots')).status, 200);
    assert.equal((await b.robotCall(robot, 'GET', '/v1/batches/01890000-0000-7000-8000-000000000000')).status, 404);
  });

  it('answers 503, never 500, when PostgreSQL ends its sessions under calls in flight, and serves again at once', async () => {
    const robot = await b.createRobot();
    const recordIds = await b.importRecords(references(20));
    const statuses = new Map<number, number>();
    let stopping = false;
    const busy = (async () => {
      while (!stopping) {
        const answers = await Promise.all([
          b.api('POST', '/v1/records', { body: references(200) }),
          b.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } }),
          b.api('GET', '/v1/requests?limit=50'),
        ]);
        for (const res of answers) {
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) assertUnavailable(res, 'a call the database failed under');
        }
      }
    })();
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await terminateBackends(database);
    }
    stopping = true;
    await busy;
    assert.ok((statuses.get(200) ?? 0) + (statuses.get(202) ?? 0) > 0, `answers: ${JSON.stringify([...statuses])}`);
    await eventually(async () => ((await b.api('GET', '/v1/robots')).status === 200 ? true : undefined), 15_000, 'serving again');
  });

  it('wakes a long poll on one process for a request made through another, through NOTIFY, within a second of PostgreSQL coming back', async () => {
    const work = bRefinery.ctx.work;
    const recheckMs = work.recheckMs;
    // A long poll on B looks again on its own only after a minute: only a NOTIFY can answer it sooner.
    work.recheckMs = 60_000;
    try {
      for (const fault of ['the network cut for 2.5 s', 'the LISTEN session terminated']) {
        const robot = await a.createRobot();
        const [recordId] = await a.importRecords(references(1));
        if (fault.startsWith('the network')) {
          proxy.cut();
          await new Promise((r) => setTimeout(r, 2500));
          proxy.restore();
        } else {
          assert.ok((await terminateBackends(database, `query ilike 'listen %'`)) >= 1, 'a LISTEN session was terminated');
        }
        await eventually(async () => ((await b.api('GET', '/readyz', { key: null })).status === 200 ? true : undefined), 15_000, 'B ready again');
        await new Promise((r) => setTimeout(r, 1000));
        const leasing = b.robotCall(robot, 'POST', '/v1/batches/lease?wait=PT40S');
        await eventually(async () => (work.waiting(robot.id) === 1 ? true : undefined), 10_000, 'the long poll waiting on B');
        assert.equal((await a.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: [recordId] } })).status, 202);
        const answered = await Promise.race([leasing, new Promise<null>((r) => setTimeout(() => r(null), 20_000).unref())]);
        assert.ok(answered, `after ${fault}: the long poll on B was not woken by the request made through A`);
        assert.equal(answered.status, 200);
        assert.equal(answered.body.item_count, 1);
      }
    } finally {
      work.recheckMs = recheckMs;
    }
  });

  describe('a refinery process', () => {
    let proc: ServeProcess;
    let processProxy: TcpProxy;
    let h: Harness;

    before(async () => {
      processProxy = await tcpProxy(target());
      cleanup.unshift(() => processProxy.close());
      const dir = await tempDir();
      cleanup.unshift(dir.remove);
      proc = await startServe('outage', { DATABASE_URL: processProxy.via(a.databaseUrl!), REFINERY_DATA_DIR: dir.path, REFINERY_ADMIN_KEY: adminKey, LOG_LEVEL: 'error' });
      cleanup.unshift(() => proc.stop());
      h = makeHarness({ backend: 'postgres', refinery: undefined as unknown as Refinery, url: proc.url, adminKey, clock: systemClock, databaseUrl: a.databaseUrl, dataDir: dir.path });
    });

    it('stays up through PostgreSQL ending its sessions and the network to it failing, again and again, with work in flight, and then serves', async () => {
      const robot = await h.createRobot({ max_batch_size: 50 });
      let stopping = false;
      const exited = new Promise<string>((resolve) => proc.child.once('exit', (code, signal) => resolve(`the process exited (${code ?? signal}):\n${proc.output().slice(-3000)}`)));
      const ignoreFailures = async (work: () => Promise<unknown>) => {
        while (!stopping) await work().catch(() => {});
      };
      // Imports (COPY), creates (transactions), leases and results (imports in the background).
      const inFlight = Promise.all([
        ignoreFailures(() => h.api('POST', '/v1/records', { raw: references(500).map((r) => JSON.stringify(r)).join('\n'), headers: { 'content-type': 'application/x-ndjson' } })),
        ignoreFailures(async () => {
          const ids = await h.importRecords(references(100));
          await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
        }),
        ignoreFailures(async () => {
          const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?wait=1');
          if (leased.status !== 200) return;
          const items = (await (await fetch(leased.body.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l).record.id as string);
          await fetch(leased.body.results_url, { method: 'PUT', body: items.map((id) => JSON.stringify({ record_id: id, type: 'annotation', content: {} })).join('\n') + '\n' });
          await h.robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token });
        }),
      ]);
      const faults = (async () => {
        for (let round = 0; round < 40; round++) {
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 150));
          if (round === 20) {
            processProxy.cut();
            await new Promise((r) => setTimeout(r, 1500));
            processProxy.restore();
          } else {
            await terminateBackends(database);
          }
        }
      })();
      const outcome = await Promise.race([faults.then(() => null), exited]);
      stopping = true;
      assert.equal(outcome, null);
      await Promise.race([inFlight, exited.then((why) => assert.fail(why))]);
      assert.equal(proc.child.exitCode, null, 'the process is up');

      // It serves: a new request goes all the way through.
      await eventually(async () => ((await h.api('GET', '/readyz', { key: null })).status === 200 ? true : undefined), 15_000, '/readyz ready again');
      const fresh = await a.createRobot();
      const [recordId] = await h.importRecords(references(1));
      const created = await h.api('POST', '/v1/requests', { body: { robot_id: fresh.id, record_ids: [recordId] } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const leased = await h.robotCall(fresh, 'POST', '/v1/batches/lease?wait=PT10S');
      assert.equal(leased.status, 200);
      const put = await fetch(leased.body.results_url, { method: 'PUT', body: JSON.stringify({ record_id: recordId, type: 'annotation', content: {} }) + '\n' });
      assert.equal(put.status, 200);
      assert.equal((await h.robotCall(fresh, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token })).status, 202);
      const done = await eventually(async () => {
        const r = await h.api('GET', `/v1/requests/${created.body.id}`);
        return r.body.status === 'completed' ? r.body : undefined;
      }, 20_000, 'the request completed');
      assert.equal(done.counts.completed, 1);
      assert.equal(proc.child.exitCode, null, 'the process is up');
    });
  });
});
