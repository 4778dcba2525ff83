import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RecordError, RefineryClient, runRobot, silentLogger } from '@refinery/sdk';
import { startToyRobot } from '../../../examples/toy-robot/src/robot.ts';
import { describeEachBackend, eventually, references } from './support/harness.ts';

// The SDK against a real Refinery over loopback: requester client, robot runtime, toy robot.
describeEachBackend('SDK and toy robot against a real Refinery', (h) => {
  /** runRobot's options for a test robot: this Refinery, short long polls, no logs, no signal handlers. */
  const quietRobot = (robot: { id: string; secret: string }) => ({
    url: h().url,
    robotId: robot.id,
    secret: robot.secret,
    wait: 'PT1S',
    log: silentLogger,
    handleSignals: false,
  });

  it('imports, requests, and the toy robot enhances every record', async () => {
    const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
    const imported = await client.importRecords(references(250));
    assert.equal(imported.created, 250);
    const robot = await client.createRobot({ name: `toy-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
    const toy = startToyRobot({ url: h().url, robotId: robot.id, secret: robot.secret, limit: 100, wait: 'PT1S', quiet: true, handleSignals: false });
    try {
      const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
      const done = await client.waitForRequest(request.id, { intervalMs: 50 });
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.completed, 250);
      const record = await client.getRecord(imported.ids[17]);
      assert.equal(record.enhancements.length, 1);
      const annotation = record.enhancements[0].content as { annotations: Array<{ scheme: string; label: string; score: number }> };
      assert.equal(annotation.annotations[0].scheme, 'meta:toy');
      assert.ok(annotation.annotations[0].score >= 0 && annotation.annotations[0].score < 1);
      assert.equal(record.enhancements[0].robot_version, '0.1.0');
      assert.equal(toy.stats.records, 250);
    } finally {
      await toy.stop();
    }
  });

  it('reports a per-record error from a handler on that item only', async () => {
    const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
    const imported = await client.importRecords(references(4));
    const robot = await client.createRobot({ name: `picky-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
    const unlucky = imported.ids[2];
    const handle = runRobot({
      ...quietRobot(robot),
      handler: (record) => {
        if (record.id === unlucky) throw new Error('cannot read this one');
        return { type: 'annotation', content: { ok: true } };
      },
    });
    try {
      const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
      const done = await client.waitForRequest(request.id, { intervalMs: 50 });
      assert.equal(done.status, 'completed_with_errors');
      const failed = await client.listRequestItems(request.id, { status: 'failed' });
      assert.equal(failed.data.length, 1);
      assert.equal(failed.data[0].record_id, unlucky);
      assert.equal(failed.data[0].error?.code, 'robot_error');
      assert.match(failed.data[0].error?.message ?? '', /cannot read this one/);
    } finally {
      await handle.stop();
    }
  });

  it('sends a record back for another try when its handler throws a retryable RecordError', async () => {
    const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
    const imported = await client.importRecords(references(2));
    const robot = await client.createRobot({ name: `flaky-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_attempts: 3 });
    const flaky = imported.ids[0];
    const handle = runRobot({
      ...quietRobot(robot),
      handler: (record) => {
        if (record.id === flaky) throw new RecordError('the upstream service is busy', { retryable: true });
        return { type: 'annotation', content: { ok: true } };
      },
    });
    try {
      const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
      // Back to pending after its first attempt, waiting out its backoff.
      const item = await eventually(async () => {
        const page = await client.listRequestItems(request.id, { status: 'pending' });
        return page.data.find((i) => i.attempts > 0);
      });
      assert.equal(item.record_id, flaky);
      assert.equal(item.attempts, 1);
      assert.equal(item.error?.code, 'robot_error');
      assert.match(item.error?.message ?? '', /upstream service is busy.*will retry/);
    } finally {
      await handle.stop();
    }
  });

  it('on stop, finishes a batch that ends before the deadline', async () => {
    const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
    const imported = await client.importRecords(references(3));
    const robot = await client.createRobot({ name: `slow-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }] });
    let started!: () => void;
    const working = new Promise<void>((r) => (started = r));
    const handle = runRobot({
      ...quietRobot(robot),
      shutdownTimeoutMs: 10_000,
      handler: async () => {
        started();
        await new Promise((r) => setTimeout(r, 300));
        return { type: 'annotation', content: { slow: true } };
      },
    });
    const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
    await working;
    await handle.stop();
    const done = await client.waitForRequest(request.id, { intervalMs: 50 });
    assert.equal(done.status, 'completed');
  });

  it('on stop, gives back a batch that cannot finish before the deadline', async () => {
    const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
    const imported = await client.importRecords(references(2));
    const robot = await client.createRobot({ name: `stuck-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_attempts: 3 });
    let started!: () => void;
    const working = new Promise<void>((r) => (started = r));
    const handle = runRobot({
      ...quietRobot(robot),
      handler: async (_record, ctx) => {
        started();
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
        return null;
      },
    });
    const request = await client.createRequest({ robot_id: robot.id, record_ids: imported.ids });
    await working;
    await handle.stop({ timeoutMs: 200 });
    const items = await eventually(async () => {
      const page = await client.listRequestItems(request.id);
      return page.data.every((i) => i.status === 'pending') ? page.data : undefined;
    });
    assert.equal(items.length, 2);
    assert.ok(items.every((i) => i.attempts === 1 && i.error?.code === 'robot_error' && /shutting down/.test(i.error.message)));
    // Given back, not lost: another robot process picks the items up after the backoff.
    assert.equal((await client.getRequest(request.id)).status, 'processing');
  });
});
