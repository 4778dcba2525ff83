import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { availableBackends, tempDir } from './support/backends.ts';
import { eventually, openHarness, references } from './support/harness.ts';
import { freePort } from './support/processes.ts';
import { startLocalS3, type LocalS3 } from './support/s3.ts';
import { spawnServe } from './support/serveProcess.ts';

// S3 as an operator meets it: `refinery serve` checks its S3 settings at start, names the store
// in its banner and in /readyz; and one request end to end on PostgreSQL with every blob in S3.
// The S3 server is s3rver, started here on a free loopback port.

const postgres = (await availableBackends()).find((b) => b.name === 'postgres');

/**
 * The S3 settings of a `refinery serve` process (spawnServe drops the test runner's): `env`, and no
 * AWS config files, nor the instance-metadata look-up the SDK would try for credentials.
 */
function s3Env(home: string, env: Record<string, string>): Record<string, string> {
  return {
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    ...env,
  };
}

describe('S3 blob store', () => {
  let s3: LocalS3;
  let home: { path: string; remove(): Promise<void> };
  before(async () => {
    s3 = await startLocalS3();
    home = await tempDir();
  });
  after(async () => {
    await s3?.stop();
    await home?.remove();
  });

  // The processes run side by side: each spends most of its time loading.
  describe('refinery serve: a bad S3 setting stops the start with one line and exit code 2, having changed nothing', { concurrency: true }, () => {
    const cases: Array<{ name: string; env: () => Promise<Record<string, string>> | Record<string, string>; says: RegExp }> = [
      {
        name: 'no AWS settings at all',
        env: () => ({ REFINERY_BLOB_URL: `s3://${s3.bucket}/refinery` }),
        says: /no AWS credentials \(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE\) and no AWS region \(set AWS_REGION/,
      },
      {
        name: 'no credentials',
        env: () => {
          const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...rest } = s3.env('refinery');
          return rest;
        },
        says: /but there are no AWS credentials \(set AWS_ACCESS_KEY_ID/,
      },
      { name: 'an unknown access key', env: () => ({ ...s3.env('refinery'), AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE' }), says: /S3 refuses the AWS credentials .*InvalidAccessKeyId/ },
      { name: 'a wrong secret key', env: () => ({ ...s3.env('refinery'), AWS_SECRET_ACCESS_KEY: 'not-the-secret' }), says: /S3 refuses the AWS credentials .*SignatureDoesNotMatch/ },
      { name: 'an endpoint nothing answers at', env: async () => ({ ...s3.env('refinery'), AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${await freePort()}` }), says: /the S3 store S3 s3:\/\/refinery-test\/refinery at http:\/\/127\.0\.0\.1:\d+ does not answer: .*ECONNREFUSED/ },
      { name: 'a missing bucket', env: () => ({ ...s3.env('refinery'), REFINERY_BLOB_URL: 's3://no-such-bucket/refinery' }), says: /the S3 bucket "no-such-bucket" does not exist/ },
      { name: 'a bucket name S3 would not take', env: () => ({ ...s3.env('refinery'), REFINERY_BLOB_URL: 's3://My_Bucket/refinery' }), says: /REFINERY_BLOB_URL must look like s3:\/\/bucket\/prefix/ },
      { name: 'an endpoint that is not a URL', env: () => ({ ...s3.env('refinery'), AWS_ENDPOINT_URL_S3: 'localhost:9000' }), says: /AWS_ENDPOINT_URL_S3 must be an http\(s\) URL, not "localhost:9000"/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const dataDir = join(home.path, `data-${c.name.replace(/\W+/g, '-')}`);
        const run = spawnServe(s3Env(home.path, { REFINERY_DATA_DIR: dataDir, ...(await c.env()) }));
        // A process that starts anyway is stopped, and fails the test.
        const stop = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
        const { code } = await run.exit;
        clearTimeout(stop);
        const [stdout, stderr] = [run.stdout(), run.stderr()];
        assert.equal(code, 2, `exit ${code}: ${stderr}`);
        assert.equal(stdout, '');
        const lines = stderr.trim().split('\n');
        assert.equal(lines.length, 1, `one line, not:\n${stderr}`);
        assert.match(lines[0], /^refinery: /);
        assert.match(lines[0], c.says);
        assert.equal(existsSync(dataDir), false, 'the data directory was not made');
      });
    }
  });

  it('refinery serve on a good S3 setting: the banner names the store, /readyz reports it, and turns 503 when the store stops answering', async () => {
    // A server of its own: this test stops it.
    const own = await startLocalS3();
    const database = postgres ? await postgres.open() : null;
    const run = spawnServe(s3Env(home.path, { ...own.env('served'), REFINERY_DATA_DIR: join(home.path, 'data-good'), ...(database ? { DATABASE_URL: database.databaseUrl! } : {}) }));
    try {
      const banner = await eventually(async () => {
        if (run.child.exitCode !== null) throw new Error(`refinery serve exited: ${run.stderr()}`);
        return /Refinery is listening on (\S+) \((.*)\)/.exec(run.stderr()) ?? undefined;
      }, 30_000, 'the banner');
      assert.match(banner[2], new RegExp(`blobs: S3 s3://${own.bucket}/served at ${own.endpoint}$`));
      const url = banner[1];

      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', blobs: `S3 s3://${own.bucket}/served at ${own.endpoint}` });

      await own.stop();
      const unready = await eventually(async () => {
        const res = await fetch(`${url}/readyz`);
        return res.status === 503 ? ((await res.json()) as { error: { code: string; message: string } }) : undefined;
      }, 15_000, '/readyz to say 503');
      assert.equal(unready.error.code, 'unavailable');
      assert.match(unready.error.message, /the blob store \(S3 s3:\/\/refinery-test\/served at .*\) does not answer: .*ECONNREFUSED/);
    } finally {
      await run.stop();
      await own.stop();
      await database?.drop();
    }
  });

  describe('one request end to end on PostgreSQL, every blob in S3', { skip: postgres ? false : 'PostgreSQL does not answer (never skipped in CI)' }, () => {
    let opened: Awaited<ReturnType<typeof openHarness>>;
    let store: ReturnType<LocalS3['store']>;
    before(async () => {
      store = s3.store('end-to-end');
      opened = await openHarness(postgres!, { blobs: store });
    });
    after(async () => {
      await opened?.close();
      store?.close();
    });

    it('a robot leases, reads its items from S3, uploads its results to S3, and the request completes with a manifest in S3', async () => {
      const h = opened.harness;
      const robot = await h.createRobot();
      const recordIds = await h.importRecords(references(5));
      const created = await h.api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202, JSON.stringify(created.body));

      const leased = await h.robotCall(robot, 'POST', '/v1/batches/lease?limit=10');
      assert.equal(leased.status, 200, JSON.stringify(leased.body));
      const batch = leased.body;
      for (const url of [batch.items_url, batch.results_url]) assert.ok(url.startsWith(`${s3.endpoint}/${s3.bucket}/end-to-end/`), url);

      // Results posted before any upload: refused, and the batch stays leased.
      const early = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(early.status, 409, JSON.stringify(early.body));
      assert.equal(early.body.error.code, 'results_missing');
      assert.equal((await h.robotCall(robot, 'GET', `/v1/batches/${batch.id}`)).body.status, 'leased');

      const items = await fetch(batch.items_url);
      assert.equal(items.status, 200);
      const lines = (await items.text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.record.id).sort(), [...recordIds].sort());
      const results = lines.map((l) => JSON.stringify({ record_id: l.record.id, type: 'annotation', content: { of: l.record.content.title } })).join('\n') + '\n';
      const put = await fetch(batch.results_url, { method: 'PUT', body: results, headers: { 'content-type': 'application/x-ndjson' } });
      assert.equal(put.status, 200, await put.text());
      const posted = await h.robotCall(robot, 'POST', `/v1/batches/${batch.id}/results`, { lease_token: batch.lease_token });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));

      const done = await eventually(async () => {
        const r = await h.api('GET', `/v1/requests/${created.body.id}`);
        return r.body.status === 'completed' && r.body.manifest_url ? r.body : undefined;
      }, 15_000, 'the request to complete with a manifest');
      assert.equal(done.counts.completed, 5);
      for (const id of recordIds) assert.equal((await h.api('GET', `/v1/records/${id}`)).body.enhancements.length, 1);

      assert.ok(done.manifest_url.startsWith(`${s3.endpoint}/${s3.bucket}/end-to-end/`), done.manifest_url);
      const manifest = (await (await fetch(done.manifest_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(manifest.length, 5);
      assert.ok(manifest.every((m) => m.status === 'completed' && m.enhancement_ids.length === 1));

      const batches = await h.api('GET', `/v1/requests/${created.body.id}/batches`);
      const report = (await (await fetch(batches.body.data[0].report_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(report.map((r) => r.outcome), ['imported', 'imported', 'imported', 'imported', 'imported']);
    });
  });
});
