import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { RefineryClient, runRobot, silentLogger, type RobotHandle } from '@refinery/sdk';
import { describeEachBackend, references } from './support/harness.ts';
import { tcpProxy, type Fault } from './support/tcpProxy.ts';

// runRobot against a real Refinery whose robots reach it through a TCP proxy that loses a
// connection on cue: a server crash or restart alone never fails an item. The SDK sends the
// results file and the post again, with backoff, for as long as the lease lasts.
const proxy = await tcpProxy();
after(() => proxy.close());

describeEachBackend(
  'SDK retries across a lost connection',
  (h) => {
    const resultsPost = /^POST \/v1\/batches\/[^/ ]+\/results /;
    const resultsUpload = /^PUT \/v1\/blobs\//;

    /** A robot with one attempt per item, `n` records and a request for them; its runRobot reaches Refinery through the proxy. */
    async function setUp(n: number) {
      const { hostname, port } = new URL(h().url);
      proxy.forwardTo({ host: hostname, port: Number(port) });
      const client = new RefineryClient({ url: h().url, apiKey: h().adminKey });
      const imported = await client.importRecords(references(n));
      const robot = await client.createRobot({ name: `steady-${Date.now()}`, accepts: ['reference'], produces: [{ type: 'annotation' }], max_attempts: 1, lease: 'PT1M' });
      const start = () =>
        runRobot({
          url: proxy.url,
          robotId: robot.id,
          secret: robot.secret,
          wait: 'PT1S',
          log: silentLogger,
          handleSignals: false,
          handler: (record) => ({ type: 'annotation', content: { of: record.id } }),
        });
      return { client, recordIds: imported.ids, start, create: () => client.createRequest({ robot_id: robot.id, record_ids: imported.ids }) };
    }

    /**
     * Waits for the request's end: every item completed on its first attempt, each record with one
     * enhancement; then stops the robot, which counts the batch as posted, nothing lost.
     */
    async function everyItemCompletedOnce(s: Awaited<ReturnType<typeof setUp>>, requestId: string, handle: RobotHandle) {
      const done = await s.client.waitForRequest(requestId, { intervalMs: 50, signal: AbortSignal.timeout(30_000) });
      assert.equal(done.status, 'completed');
      assert.equal(done.counts.completed, s.recordIds.length);
      const items = await s.client.listRequestItems(requestId);
      assert.ok(items.data.every((i) => i.attempts === 1 && i.error === null), JSON.stringify(items.data));
      for (const id of s.recordIds) assert.equal((await s.client.getRecord(id)).enhancements.length, 1);
      await handle.stop();
      assert.deepEqual({ batches: handle.stats.batches, batchErrors: handle.stats.batchErrors, leasesLost: handle.stats.leasesLost }, { batches: 1, batchErrors: 0, leasesLost: 0 });
    }

    /** Runs a robot through `fault`, made to the first request matching `requestLine`, and checks that nothing came of it. */
    async function unharmedBy(requestLine: RegExp, fault: Fault) {
      const s = await setUp(5);
      const happened = proxy.failNext(requestLine, fault);
      const handle = s.start();
      try {
        const request = await s.create();
        await happened;
        await everyItemCompletedOnce(s, request.id, handle);
      } finally {
        await handle.stop();
      }
    }

    it('the answer to a lease is lost after Refinery leased the batch: the robot asks again with the same key and gets the same batch', async () => {
      const s = await setUp(5);
      // The request first, so that the very first lease call takes its items.
      const request = await s.create();
      const happened = proxy.failNext(/^POST \/v1\/batches\/lease/, { loseAnswer: true });
      const handle = s.start();
      try {
        await happened;
        await everyItemCompletedOnce(s, request.id, handle);
      } finally {
        await handle.stop();
      }
    });

    it('the answer to the results post is lost after Refinery took it: the robot posts again and the batch counts as posted', () => unharmedBy(resultsPost, { loseAnswer: true }));

    it('Refinery is down when the results upload starts: the file is sent again once it is back, and no attempt is lost', () => unharmedBy(resultsUpload, { cutMs: 2_000 }));

    it('Refinery is down between the upload and the post for longer than five tries take: the post waits for it while the lease lasts', () =>
      unharmedBy(resultsPost, { cutMs: 9_000 }));
  },
  { publicUrl: proxy.url },
);
