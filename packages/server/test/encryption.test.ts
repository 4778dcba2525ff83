import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { systemClock } from '../src/clock.ts';
import { availableBackends, tempDir, type Backend } from './support/backends.ts';
import { describeEachBackend, eventually, makeHarness, openOtherProcess, type Harness } from './support/harness.ts';
import { serveAdminKey, spawnServe } from './support/serveProcess.ts';

// Encryption at rest (docs/encryption.md): what an operator checks. After a run through real
// `refinery serve` processes, the raw database files, the WAL and the blob folder hold no robot
// or webhook secret and no content of an encrypted record type, while the control (content of a
// type that is not encrypted) is found by the same scan, so the scan can see plaintext.

const keyText = () => randomBytes(32).toString('base64');

/** `refinery serve` started and listening, however long a loaded machine takes to start it. */
async function startServe(env: Record<string, string>) {
  const spawned = spawnServe(env);
  return { ...spawned, url: await spawned.url };
}

/** Every file under `dir`, with its bytes. */
async function* filesUnder(dir: string): AsyncIterable<{ path: string; bytes: Buffer }> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield { path, bytes: await readFile(path) };
  }
}

/** The markers found in any of `files`, with the first file each is in. */
function findMarkers(files: Array<{ path: string; bytes: Buffer }>, markers: string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const { path, bytes } of files) for (const m of markers) if (!found.has(m) && bytes.includes(m)) found.set(m, path);
  return found;
}

/** The files PostgreSQL keeps of database `name`'s tables (checkpointed first) and the WAL written since `fromLsn`, read as the server's superuser. */
async function postgresFiles(databaseUrl: string, fromLsn: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('checkpoint');
    const files: Array<{ path: string; bytes: Buffer }> = [];
    const tables = await client.query<{ path: string }>(
      `select pg_relation_filepath(c.oid) as path from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('public', 'pg_toast') and c.relkind in ('r', 't') and pg_relation_filepath(c.oid) is not null`,
    );
    for (const { path } of tables.rows) {
      const { rows } = await client.query<{ bytes: Buffer }>(`select case when (pg_stat_file($1::text, true)).size is not null then pg_read_binary_file($1::text) end as bytes`, [path]);
      if (rows[0].bytes) files.push({ path, bytes: rows[0].bytes });
    }
    const wal = await client.query<{ name: string }>(
      `select name from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$' and name >= pg_walfile_name($1::pg_lsn) and name <= pg_walfile_name(pg_current_wal_lsn()) order by name`,
      [fromLsn],
    );
    for (const { name } of wal.rows) {
      const { rows } = await client.query<{ bytes: Buffer }>(`select case when (pg_stat_file('pg_wal/' || $1, true)).size is not null then pg_read_binary_file('pg_wal/' || $1) end as bytes`, [name]);
      if (rows[0].bytes) files.push({ path: `pg_wal/${name}`, bytes: rows[0].bytes });
    }
    return files;
  } finally {
    await client.end();
  }
}

/** A run through the API: a robot, a webhook secret, records of an encrypted and of a plain type, a request worked by the robot. */
async function workThrough(h: Harness, marker: string) {
  const robot = await h.createRobot({ accepts: ['sealed_doc', 'plain_doc'], produces: [{ type: 'annotation' }] });
  const webhookSecret = (await h.api('GET', '/v1/webhook-secret')).body.secret as string;
  const marked = await h.api('PUT', '/v1/record-types/sealed_doc', { body: { encrypted: true } });
  assert.equal(marked.status, 200, JSON.stringify(marked.body));
  assert.deepEqual({ encrypted: marked.body.encrypted, encryption: marked.body.encryption }, { encrypted: true, encryption: { status: 'encrypted', records_pending: 0 } });
  const secretContent = `SEALED-${marker}`;
  const plainContent = `PLAIN-${marker}`;
  const ids = await h.importRecords([
    { type: 'sealed_doc', identifiers: [{ type: 'doc', value: `s-${marker}` }], content: { title: secretContent } },
    { type: 'plain_doc', identifiers: [{ type: 'doc', value: `p-${marker}` }], content: { title: plainContent } },
  ]);
  const created = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?limit=10');
  assert.equal(leased.status, 200, JSON.stringify(leased.body));
  const lines = (await (await fetch(leased.body.items_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.record.content.title).sort(), [plainContent, secretContent], 'the robot reads the content in clear');
  const resultContent = `RESULT-${marker}`;
  const results = lines.map((l) => JSON.stringify({ record_id: l.record.id, type: 'annotation', content: { note: resultContent } })).join('\n') + '\n';
  assert.equal((await fetch(leased.body.results_url, { method: 'PUT', body: results })).status, 200);
  assert.equal((await h.robotCall(robot, 'POST', `/v1/batches/${leased.body.id}/results`, { lease_token: leased.body.lease_token })).status, 202);
  await eventually(async () => ((await h.api('GET', `/v1/requests/${created.body.id}`)).body.status === 'completed' ? true : undefined));
  const stored = await h.api('GET', `/v1/records/${ids[0]}`);
  assert.deepEqual(stored.body.content, { title: secretContent }, 'the API gives the content back in clear');
  const listed = await h.api('GET', '/v1/records?type=sealed_doc');
  assert.deepEqual(listed.body.data.map((r: { content: unknown }) => r.content), [{ title: secretContent }]);
  return { robotSecret: robot.secret, webhookSecret, secretContent, plainContent, resultContent };
}

describe('encryption at rest', async () => {
  const backends = await availableBackends();

  describe('embedded (PGlite): a master key made in the data directory at first start', () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    before(async () => {
      dir = await tempDir('refinery-crypt-');
    });
    after(async () => {
      await dir?.remove();
    });

    it('says it made the key; the data directory (database files, WAL, blobs, spool) holds no secret and no encrypted content', async () => {
      const marker = randomBytes(8).toString('hex');
      const serve = await startServe({ REFINERY_DATA_DIR: dir.path, REFINERY_MASTER_KEY: '' });
      let seen;
      try {
        await eventually(async () => (serve.output().includes('API docs:') ? true : undefined), 30_000, 'the banner');
        assert.match(serve.output(), /Master key: made at first start in .*master-key/);
        const h = makeHarness({ backend: 'pglite', refinery: undefined as never, url: serve.url, adminKey: serveAdminKey, clock: systemClock, databaseUrl: null, dataDir: dir.path });
        seen = await workThrough(h, marker);
      } finally {
        await serve.stop();
      }
      const files: Array<{ path: string; bytes: Buffer }> = [];
      for await (const f of filesUnder(dir.path)) files.push(f);
      const found = findMarkers(files, [seen.robotSecret, seen.webhookSecret, seen.secretContent, seen.plainContent]);
      assert.ok(found.has(seen.plainContent), 'the scan finds the content of the type that is not encrypted (the control)');
      assert.deepEqual([...found.keys()].filter((m) => m !== seen.plainContent), [], `found in clear: ${JSON.stringify(Object.fromEntries(found))}`);
      const blobs = files.filter((f) => f.path.startsWith(join(dir.path, 'blobs')));
      assert.ok(blobs.length >= 3, 'items, results and report files were written');
      assert.deepEqual([...findMarkers(blobs, [seen.plainContent, seen.resultContent]).keys()], [], 'the blob files are encrypted, whatever their records');

      // A start with another key than the data directory's: one clear line, exit code 2.
      const wrong = spawnServe({ REFINERY_DATA_DIR: dir.path, REFINERY_MASTER_KEY: keyText() });
      const exit = await wrong.exit;
      assert.equal(exit.code, 2, wrong.output());
      assert.match(wrong.stderr().trim(), /^refinery: REFINERY_MASTER_KEY is not the master key of this database: its data keys are wrapped by master key [0-9a-f]{16}, and this key is [0-9a-f]{16}/);
      assert.equal(wrong.stderr().trim().split('\n').length, 1, wrong.stderr());
    });
  });

  const postgres = backends.find((b) => b.name === 'postgres');
  describe('PostgreSQL', { skip: !postgres && 'PostgreSQL does not answer' }, () => {
    let opened: Awaited<ReturnType<Backend['open']>>;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    const masterKey = keyText();
    before(async () => {
      opened = await postgres!.open();
      dir = await tempDir('refinery-crypt-');
    });
    after(async () => {
      await opened?.drop();
      await dir?.remove();
    });

    it('the database files, the WAL written during the run and the blob folder hold no secret and no encrypted content', async () => {
      const lsn = await opened.db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
      const marker = randomBytes(8).toString('hex');
      const serve = await startServe({ DATABASE_URL: opened.databaseUrl!, REFINERY_DATA_DIR: dir.path, REFINERY_MASTER_KEY: masterKey });
      let seen;
      try {
        const h = makeHarness({ backend: 'postgres', refinery: undefined as never, url: serve.url, adminKey: serveAdminKey, clock: systemClock, databaseUrl: opened.databaseUrl, dataDir: dir.path });
        seen = await workThrough(h, marker);
      } finally {
        await serve.stop();
      }
      const files = await postgresFiles(opened.databaseUrl!, lsn.rows[0].lsn);
      const signingKey = await opened.db.query<{ value: string }>(`select value from settings where key = 'blob_signing_key'`);
      assert.match(signingKey.rows[0].value, /^rfe1\./, "the blob URLs' signing key is stored sealed");
      const found = findMarkers(files, [seen.robotSecret, seen.webhookSecret, seen.secretContent, seen.plainContent]);
      assert.ok(found.has(seen.plainContent), 'the scan finds the content of the type that is not encrypted (the control)');
      assert.deepEqual([...found.keys()].filter((m) => m !== seen.plainContent), [], `found in clear: ${JSON.stringify(Object.fromEntries(found))}`);
      const blobs: Array<{ path: string; bytes: Buffer }> = [];
      for await (const f of filesUnder(join(dir.path, 'blobs'))) blobs.push(f);
      assert.ok(blobs.length >= 3, 'items, results and report files were written');
      assert.deepEqual([...findMarkers(blobs, [seen.plainContent, seen.resultContent]).keys()], []);
    });

    it('refuses to start with a wrong master key, or none, in one clear line (exit code 2)', async () => {
      for (const [env, pattern] of [
        [{ REFINERY_MASTER_KEY: keyText() }, /^refinery: REFINERY_MASTER_KEY is not the master key of this database/],
        [{ REFINERY_MASTER_KEY: '' }, /^refinery: no master key: set REFINERY_MASTER_KEY/],
        [{ REFINERY_MASTER_KEY: 'too-short' }, /^refinery: REFINERY_MASTER_KEY must be 32 bytes/],
      ] as const) {
        const spawned = spawnServe({ DATABASE_URL: opened.databaseUrl!, REFINERY_DATA_DIR: dir.path, ...env });
        const exit = await spawned.exit;
        assert.equal(exit.code, 2, spawned.output());
        assert.match(spawned.stderr().trim(), pattern);
        assert.equal(spawned.stderr().trim().split('\n').length, 1, spawned.stderr());
      }
    });
  });
});

describeEachBackend("the blob URLs' signing key", (h) => {
  it('one stored in clear by an earlier version is sealed at the next start, and the URLs it signed still work', async () => {
    const robot = await h().createRobot();
    const ids = await h().importRecords([{ type: 'reference', identifiers: [{ type: 'doi', value: `10.1/sk-${Date.now()}` }], content: { title: 'signed' } }]);
    const db = h().refinery.ctx.db;
    const sealed = (await db.query<{ value: string }>(`select value from settings where key = 'blob_signing_key'`)).rows[0].value;
    const clear = h().refinery.ctx.keys.open(sealed, 'setting blob_signing_key');
    // As an earlier version left it.
    await db.query(`update settings set value = $1 where key = 'blob_signing_key'`, [clear]);
    const started = await openOtherProcess(h(), { adminKey: h().adminKey });
    try {
      const now = (await db.query<{ value: string }>(`select value from settings where key = 'blob_signing_key'`)).rows[0].value;
      assert.match(now, /^rfe1\./);
      assert.notEqual(now, sealed, 'sealed anew');
      assert.equal(h().refinery.ctx.keys.open(now, 'setting blob_signing_key'), clear, 'the same key, so the URLs signed before stay good');
      await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: ids } });
      const leased = await started.other.robotCall(robot, 'POST', '/v1/batches/lease?limit=10');
      assert.equal(leased.status, 200);
      const items = await fetch(leased.body.items_url);
      assert.equal(items.status, 200);
      assert.match(await items.text(), /signed/);
    } finally {
      await started.close();
    }
  });
});
