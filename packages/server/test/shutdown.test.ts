import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '@refinery/protocol';
import { availableBackends, tempDir } from './support/backends.ts';
import { describeEachBackend, references } from './support/harness.ts';
import { openUpload } from './support/rawHttp.ts';
import { serveAdminKey, spawnServe } from './support/serveProcess.ts';

const auth = { authorization: `Bearer ${serveAdminKey}` };

async function importRecords(url: string, records: unknown[]): Promise<Response> {
  return fetch(`${url}/v1/records`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(records) });
}

/** How many of the records with DOIs under `prefix` (0 … n-1) are stored. */
async function storedCount(url: string, prefix: string, n: number): Promise<number> {
  let found = 0;
  for (let i = 0; i < n; i += 1) {
    const res = await fetch(`${url}/v1/records?identifier=${encodeURIComponent(`doi:10.1000/${prefix}/${i}`)}`, { headers: auth });
    found += ((await res.json()) as { data: unknown[] }).data.length;
  }
  return found;
}

// SIGTERM to a real `refinery serve`, in each state a client can leave it in; then a restart on
// the same data (directory, or PostgreSQL database) finds everything that was answered.
describe('refinery serve stops on SIGTERM in every state, within REFINERY_SHUTDOWN_TIMEOUT, and loses nothing', async () => {
  for (const backend of await availableBackends()) {
    describe(backend.name, () => {
      let dir: Awaited<ReturnType<typeof tempDir>>;
      let database: Awaited<ReturnType<typeof backend.open>> | null = null;
      let env: Record<string, string>;
      before(async () => {
        dir = await tempDir();
        env = { REFINERY_DATA_DIR: join(dir.path, 'data'), REFINERY_SHUTDOWN_TIMEOUT: '3' };
        if (backend.name === 'postgres') {
          database = await backend.open();
          env.DATABASE_URL = database.databaseUrl!;
        }
      });
      after(async () => {
        await database?.drop();
        await dir.remove();
      });

      /**
       * Imports under way and an aborted upload (and a stalled one, with `stall`) when SIGTERM
       * comes; then a restart on the same data: every import answered 200 is whole, every other
       * one wholly there or wholly absent, the aborted and stalled uploads absent.
       */
      async function sigtermDuringImports(options: { stall: boolean; shutdownTimeout: string }): Promise<{ code: number | null; stdout: string }> {
        const served = spawnServe({ ...env, REFINERY_SHUTDOWN_TIMEOUT: options.shutdownTimeout });
        const url = await served.url;
        const kept = `kept-${Date.now()}`;
        assert.equal((await importRecords(url, references(20, kept))).status, 200);

        const uploadHeaders = { ...auth, 'content-type': 'application/x-ndjson' };
        const stalledPrefix = `stalled-${Date.now()}`;
        const stalled = options.stall ? openUpload(`${url}/v1/records`, { headers: uploadHeaders }) : null;
        stalled?.write(references(3, stalledPrefix).map((r) => JSON.stringify(r) + '\n').join(''));
        const abortedPrefix = `aborted-${Date.now()}`;
        const aborted = openUpload(`${url}/v1/records`, { headers: uploadHeaders });
        aborted.write(references(3, abortedPrefix).map((r) => JSON.stringify(r) + '\n').join(''));
        await new Promise((r) => setTimeout(r, 100));
        aborted.abort();

        const concurrent = [0, 1, 2, 3].map((i) => ({ prefix: `concurrent-${i}-${Date.now()}`, n: 3000 }));
        const answers = concurrent.map((c) => importRecords(url, references(c.n, c.prefix)).then((res) => res.status, () => null));
        await new Promise((r) => setTimeout(r, 300));
        served.child.kill('SIGTERM');
        const exit = await served.exit;
        const statuses = await Promise.all(answers);
        stalled?.abort();

        const again = spawnServe(env);
        const url2 = await again.url;
        try {
          assert.equal(await storedCount(url2, kept, 20), 20);
          for (const [i, c] of concurrent.entries()) {
            const stored = await storedCount(url2, c.prefix, c.n);
            if (statuses[i] === 200) assert.equal(stored, c.n, `import ${i} was answered 200`);
            else assert.ok(stored === 0 || stored === c.n, `import ${i} (answered ${statuses[i]}) is half there: ${stored} of ${c.n}`);
          }
          assert.equal(await storedCount(url2, stalledPrefix, 3), 0);
          assert.equal(await storedCount(url2, abortedPrefix, 3), 0);
        } finally {
          again.child.kill('SIGTERM');
          assert.equal((await again.exit).code, 0, again.stderr());
        }
        return { code: exit.code, stdout: served.stdout() };
      }

      it('imports under way and an aborted upload: drains them and stops (exit 0); after a restart every answered import is whole', async () => {
        const { code, stdout } = await sigtermDuringImports({ stall: false, shutdownTimeout: '120' });
        assert.equal(code, 0, stdout);
      });

      it('a stalled upload besides: stops when the shutdown time is up (exit 1, said in the log), losing nothing', async () => {
        const { code, stdout } = await sigtermDuringImports({ stall: true, shutdownTimeout: '3' });
        assert.equal(code, 1);
        assert.match(stdout, /did not finish within REFINERY_SHUTDOWN_TIMEOUT/);
      });

      it('a long poll and an event stream open: both are ended and the process stops at once (exit 0)', async () => {
        const served = spawnServe(env);
        const url = await served.url;
        const post = async (path: string, body: unknown) => (await fetch(`${url}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
        const robotIn = (name: string) => ({ name: `${name}-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
        // One robot waits in a long poll with nothing to do; a request for another is watched.
        const poller = (await post('/v1/robots', robotIn('poller'))) as { id: string; secret: string };
        const watched = (await post('/v1/robots', robotIn('watched'))) as { id: string };
        const imported = (await (await importRecords(url, references(1))).json()) as { ids: string[] };
        const request = (await post('/v1/requests', { robot_id: watched.id, record_ids: imported.ids })) as { id: string };
        const stream = await fetch(`${url}/v1/requests/${request.id}/events`, { headers: auth });
        assert.equal(stream.status, 200);
        const streamText = stream.text();

        const leaseUrl = `${url}/v1/batches/lease?wait=60`;
        const poll = fetch(leaseUrl, { method: 'POST', headers: signRequest({ method: 'POST', url: leaseUrl, body: '', keyId: poller.id, secret: poller.secret }) });
        await new Promise((r) => setTimeout(r, 500));
        served.child.kill('SIGTERM');
        assert.equal((await poll).status, 204);
        await streamText;
        const exit = await served.exit;
        assert.equal(exit.code, 0, served.stderr() + served.stdout());
      });
    });
  }
});

describeEachBackend('closing', (h) => {
  it('answers a request that comes on an open connection while the server closes with 503 in the error shape, and closes the connection', async () => {
    const robot = await h().createRobot();
    const leaseUrl = `${h().url}/v1/batches/lease?wait=30`;
    const signed = signRequest({ method: 'POST', url: leaseUrl, body: '', keyId: robot.id, secret: robot.secret });
    const head = Object.entries(signed).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    // A long poll; once the close has begun, a second request on the same connection.
    const socket = connect(Number(new URL(h().url).port), '127.0.0.1');
    let raw = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(`POST /v1/batches/lease?wait=30 HTTP/1.1\r\nHost: ${new URL(h().url).host}\r\n${head}Content-Length: 0\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 300));
    const closing = h().refinery.close();
    // Once it takes no new connections, the server is closing.
    for (;;) {
      const refused = await new Promise<boolean>((resolve) => {
        const probe = connect(Number(new URL(h().url).port), '127.0.0.1');
        probe.on('connect', () => (probe.destroy(), resolve(false)));
        probe.on('error', () => resolve(true));
      });
      if (refused) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    await closing;
    assert.match(raw, /^HTTP\/1.1 204/);
    const second = raw.slice(raw.indexOf('HTTP/1.1', 10));
    assert.match(second, /^HTTP\/1.1 503/);
    assert.match(second, /connection: close/i);
    assert.equal(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)).error.code, 'unavailable');
  });
});
