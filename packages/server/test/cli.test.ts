import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { RecordError, runRobot, silentLogger } from '@refinery/sdk';
import { startToyRobot, toyAnnotation } from '../../../examples/toy-robot/src/robot.ts';
import { describeEachBackend, references } from './support/harness.ts';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

type Run = { stdout: string; stderr: string };
type Failed = { code: number; stdout: string; stderr: string };

// The `refinery` CLI as a person runs it, against a real Refinery.
describeEachBackend('refinery CLI', (h) => {
  const refinery = (args: string[], key = h().adminKey): Promise<Run> =>
    run(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: key, CI: 'true' } });
  /** Runs a command with `--json` and parses its stdout, which must be JSON and nothing else. */
  const json = async (args: string[], key?: string): Promise<any> => {
    const { stdout } = await refinery([...args, '--json'], key);
    try {
      return JSON.parse(stdout);
    } catch {
      assert.fail(`refinery ${args.join(' ')} --json printed what is not JSON:\n${stdout}`);
    }
  };
  /** Runs a command that must fail: exit 1, and what it printed. */
  const failing = async (args: string[], key?: string): Promise<Failed> => {
    const err = await refinery(args, key).then(
      (ok) => assert.fail(`refinery ${args.join(' ')} succeeded: ${ok.stdout}`),
      (e: Failed) => e,
    );
    assert.equal(err.code, 1, err.stderr);
    return err;
  };
  const file = async (name: string, text: string) => {
    const path = join(h().dataDir, name);
    await writeFile(path, text);
    return path;
  };
  const recordsFile = (n: number) => file(`records-${Date.now()}.jsonl`, references(n).map((r) => JSON.stringify(r)).join('\n') + '\n');

  it('creates a robot, imports records, creates a request and watches it to the end', async () => {
    const created = await refinery(['robots', 'create', '--name', `cli-toy-${Date.now()}`, '--accepts', 'reference', '--produces', 'annotation']);
    const robot = JSON.parse(created.stdout) as { id: string; secret: string };
    assert.match(created.stderr, /shown only this once/);

    const imported = await refinery(['records', 'import', await recordsFile(30)]);
    const ids = (JSON.parse(imported.stdout) as { ids: string[] }).ids;
    assert.equal(ids.length, 30);
    const idsFile = await file('imported.json', imported.stdout);

    const request = await refinery(['requests', 'create', '--robot', robot.id, '--records', idsFile]);
    const requestId = uuid.exec(request.stdout)?.[0];
    assert.ok(requestId, request.stdout + request.stderr);
    assert.match(request.stdout, new RegExp(`refinery requests watch ${requestId}`));

    const toy = startToyRobot({ url: h().url, robotId: robot.id, secret: robot.secret, limit: 10, wait: 'PT1S', quiet: true, handleSignals: false });
    try {
      const watched = await refinery(['requests', 'watch', requestId]);
      assert.match(watched.stdout, new RegExp(`Request ${requestId} completed`));
      assert.match(watched.stdout, /completed\s+30/);
      assert.doesNotMatch(watched.stdout, /--status|retry/, 'no hint when nothing went wrong');
    } finally {
      await toy.stop();
    }
  });

  it('prints JSON and nothing else on stdout with --json, for every command', async () => {
    const name = `cli-json-${Date.now()}`;
    const robot = JSON.parse((await refinery(['robots', 'create', '--name', name, '--accepts', 'reference', '--produces', 'annotation', '--json'])).stdout);
    assert.equal(robot.name, name);
    const imported = await json(['records', 'import', await recordsFile(3)]);
    assert.equal(imported.ids.length, 3);
    const idsFile = await file('json-ids.json', JSON.stringify(imported));
    const key = await json(['keys', 'create', '--name', `cli-json-${Date.now()}`]);

    const [robots, shown, keys, record, recordAgain, records, types] = await Promise.all([
      json(['robots', 'list']),
      json(['robots', 'show', robot.id]),
      json(['keys', 'list']),
      json(['records', 'get', imported.ids[0]]),
      json(['records', 'show', imported.ids[1]]),
      json(['records', 'list', '--all']),
      json(['record-types', 'list']),
    ]);
    assert.ok(robots.some((r: { id: string }) => r.id === robot.id));
    assert.equal(shown.id, robot.id);
    assert.ok(keys.some((k: { id: string }) => k.id === key.id));
    assert.equal(record.id, imported.ids[0]);
    assert.ok(Array.isArray(record.enhancements));
    assert.equal(recordAgain.id, imported.ids[1]);
    for (const id of imported.ids) assert.ok(records.some((r: { id: string }) => r.id === id));
    assert.ok(Array.isArray(types));

    const paused = await json(['robots', 'pause', robot.id]);
    assert.equal(paused.active, false);
    assert.equal((await json(['robots', 'resume', robot.id])).active, true);
    const rotated = await json(['robots', 'rotate-secret', robot.id, '--grace', 'PT1M']);
    assert.equal(rotated.secrets.length, 2);
    assert.match(rotated.secret, /^rs_/);

    const type = `cli-type-${Date.now()}`;
    const set = await json(['record-types', 'set', type, '--aged-out', 'P365D', '--full-until', 'P30D', '--decay']);
    assert.deepEqual(set.retention, { full_until: 'PT2592000S', aged_out: 'PT31536000S', decay: true });
    assert.equal((await json(['record-types', 'show', type])).retention.aged_out, 'PT31536000S');
    assert.equal((await json(['record-types', 'clear', type])).retention, null);

    const first = await json(['requests', 'create', '--robot', robot.id, '--records', idsFile]);
    const second = await json(['requests', 'create', '--robot', robot.id, '--records', idsFile, '--priority', 'high']);
    const [list, one, items] = await Promise.all([json(['requests', 'list', '--robot', robot.id]), json(['requests', 'show', first.id]), json(['requests', 'items', first.id])]);
    assert.deepEqual(list.map((r: { id: string }) => r.id), [second.id, first.id], 'newest first');
    assert.equal(one.id, first.id);
    assert.deepEqual(items.map((i: { record_id: string }) => i.record_id).sort(), [...imported.ids].sort());
    const cancelled = await json(['requests', 'cancel', first.id]);
    assert.equal(cancelled.status, 'cancelled');
    const watched = await json(['requests', 'watch', first.id]).catch((err: Failed) => JSON.parse(err.stdout));
    assert.equal(watched.status, 'cancelled');
    assert.deepEqual(await json(['requests', 'items', first.id, '--status', 'failed']), []);

    const revoked = await json(['keys', 'revoke', key.id]);
    assert.equal(revoked.id, key.id);
    assert.ok(revoked.revoked_at);

    // An error, with --json: stdout stays empty, stderr holds the error as JSON.
    const refused = await failing(['requests', 'retry', second.id, '--json']);
    assert.equal(refused.stdout, '');
    assert.equal(JSON.parse(refused.stderr).error.code, 'request_not_finished');
  });

  it('retries the failed items of a request as a new one that a robot completes; again: the same retry', async () => {
    const robot = JSON.parse((await refinery(['robots', 'create', '--name', `cli-retry-${Date.now()}`, '--accepts', 'reference', '--produces', 'annotation', '--max-attempts', '1'])).stdout);
    const imported = await json(['records', 'import', await recordsFile(6)]);
    const failingIds = new Set<string>(imported.ids.slice(0, 2));
    const request = await json(['requests', 'create', '--robot', robot.id, '--records', await file('retry-ids.json', JSON.stringify(imported))]);

    const flaky = runRobot({
      url: h().url,
      robotId: robot.id,
      secret: robot.secret,
      wait: 'PT1S',
      log: silentLogger,
      handleSignals: false,
      handler: (record) => {
        if (failingIds.has(record.id)) throw new RecordError('the model timed out');
        return toyAnnotation(record);
      },
    });
    let watched: Run;
    try {
      watched = await refinery(['requests', 'watch', request.id]);
    } finally {
      await flaky.stop();
    }
    assert.match(watched.stdout, /completed_with_errors/);
    assert.match(watched.stdout, new RegExp(`2 items failed; see why: refinery requests items ${request.id} --status failed`));
    assert.match(watched.stdout, new RegExp(`refinery requests retry ${request.id}`));
    assert.doesNotMatch(watched.stdout, /--status denied/, 'only the statuses some items are in');

    // Naming a completed item is refused, and makes nothing.
    const completedId = imported.ids[5];
    const refused = await failing(['requests', 'retry', request.id, '--records', await file('completed-id.txt', `${completedId}\n`)]);
    assert.match(refused.stderr, new RegExp(`${completedId} \\(completed\\)`));
    assert.match(refused.stderr, /items_not_failed, HTTP 409/);
    assert.match(refused.stderr, new RegExp(`refinery requests items ${request.id} --status failed`));

    const retry = await refinery(['requests', 'retry', request.id]);
    const retryId = uuid.exec(retry.stdout)?.[0];
    assert.ok(retryId, retry.stdout);
    assert.match(retry.stdout, new RegExp(`retries 2 failed items of request ${request.id}`));
    assert.match(retry.stdout, new RegExp(`refinery requests watch ${retryId}`));
    const again = await json(['requests', 'retry', request.id]);
    assert.equal(again.id, retryId);
    assert.equal(again.retry_of, request.id);

    const toy = startToyRobot({ url: h().url, robotId: robot.id, secret: robot.secret, wait: 'PT1S', quiet: true, handleSignals: false });
    try {
      const done = await refinery(['requests', 'watch', retryId!]);
      assert.match(done.stdout, new RegExp(`Request ${retryId} completed`));
      assert.match(done.stdout, /completed\s+2/);
    } finally {
      await toy.stop();
    }
    assert.equal((await json(['requests', 'retry', request.id])).id, retryId);
    const shown = await refinery(['requests', 'show', retryId!]);
    assert.match(shown.stdout, new RegExp(`retry of\\s+${request.id}`));
  });

  it('revokes a key: the next command with it is refused at once', async () => {
    const key = await json(['keys', 'create', '--name', `cli-revoke-${Date.now()}`]);
    await refinery(['requests', 'list'], key.key);
    const revoked = await refinery(['keys', 'revoke', key.id]);
    assert.match(revoked.stdout, /is revoked/);
    const refused = await failing(['requests', 'list'], key.key);
    assert.match(refused.stderr, /unauthorized, HTTP 401/);
    assert.match(refused.stderr, /revoked/);
  });

  it('says what went wrong, with the command that helps, and exits 1', async () => {
    const missing = await failing(['requests', 'show', '01900000-0000-7000-8000-000000000000']);
    assert.match(missing.stderr, /not found/);

    const robot = await h().createRobot();
    await refinery(['robots', 'pause', robot.id]);
    const idsFile = await file('paused-ids.txt', (await h().importRecords(references(1))).join('\n'));
    const paused = await failing(['requests', 'create', '--robot', robot.id, '--records', idsFile]);
    assert.match(paused.stderr, /is paused/);
    assert.match(paused.stderr, new RegExp(`refinery robots resume ${robot.id}`));
  });
});
