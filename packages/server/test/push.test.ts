import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { pushMessageId, pushSigningSecret, type ProvisionedRobot } from '@refinery/protocol';
import { servePushRobot, silentLogger, type PushRobotHandle } from '@refinery/sdk';
import { retryBackoff } from '../src/batches/backoff.ts';
import { serveToyPushRobot } from '../../../examples/toy-robot/src/robot.ts';
import { createPushDispatcher } from '../src/push/dispatcher.ts';
import { describeEachBackend, eventually, references } from './support/harness.ts';
import { receiver } from './support/receiver.ts';

/** A loopback port nobody listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** One annotation line per record of the batch, read from its items_url: what a robot answers. */
async function annotate(itemsUrl: string): Promise<string> {
  const items = (await (await fetch(itemsUrl)).text()).trim().split('\n').map((line) => JSON.parse(line));
  return items.map((i) => JSON.stringify({ record_id: i.record.id, type: 'annotation', content: { pushed: true } })).join('\n') + '\n';
}

// Push delivery (docs/push.md) over real HTTP: the dispatcher POSTs leased batches, signed per
// Standard Webhooks, to robots served by the SDK or to bare receivers; the clock is moved, never slept on.
describeEachBackend(
  'push delivery',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);

    async function requestFor(robot: ProvisionedRobot, n: number): Promise<{ requestId: string; recordIds: string[] }> {
      const recordIds = await h().importRecords(references(n));
      const created = await h().api('POST', '/v1/requests', { body: { robot_id: robot.id, record_ids: recordIds } });
      assert.equal(created.status, 202);
      return { requestId: created.body.id, recordIds };
    }
    const request = async (id: string) => (await h().api('GET', `/v1/requests/${id}`)).body;
    const items = async (id: string): Promise<Array<{ record_id: string; status: string; attempts: number; error: { code: string; message: string } | null }>> =>
      (await h().api('GET', `/v1/requests/${id}/items`)).body.data;

    /** A push robot registered at a URL not known yet: its SDK server needs the robot's id and secret first. */
    async function pushRobot(serve: (robot: ProvisionedRobot) => Promise<PushRobotHandle>): Promise<{ robot: ProvisionedRobot; server: PushRobotHandle }> {
      const robot = await h().createRobot({ delivery: { mode: 'push', url: 'http://127.0.0.1:9/not-yet' } });
      const server = await serve(robot);
      const patched = await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { delivery: { mode: 'push', url: server.url } } });
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.body.delivery, { mode: 'push', url: server.url });
      return { robot, server };
    }

    it('a push robot answering 200 with its results inline completes a request; its pull lease is refused', async () => {
      const seen: string[] = [];
      const { robot, server } = await pushRobot((r) =>
        servePushRobot({
          url: h().url,
          robotId: r.id,
          secret: r.secret,
          mode: 'sync',
          robotVersion: '2.0',
          log: silentLogger,
          handler: (record) => {
            seen.push(record.id);
            return { type: 'annotation', content: { inline: record.id } };
          },
        }),
      );
      try {
        const { requestId, recordIds } = await requestFor(robot, 3);
        const lease = await h().robotCall(robot, 'POST', '/v1/batches/lease');
        assert.equal(lease.status, 409);
        assert.equal(lease.body.error.code, 'push_robot');
        assert.match(lease.body.error.message, /pushed to its URL/);

        const outcomes = await h().refinery.pusher.runOnce();
        assert.deepEqual(outcomes.map((o) => o.outcome), ['imported']);
        assert.deepEqual(seen.sort(), [...recordIds].sort());
        const done = await request(requestId);
        assert.equal(done.status, 'completed');
        assert.equal(done.counts.completed, 3);
        const record = (await h().api('GET', `/v1/records/${recordIds[1]}`)).body;
        assert.equal(record.enhancements.length, 1);
        assert.deepEqual(record.enhancements[0].content, { inline: recordIds[1] });
        assert.equal(record.enhancements[0].robot_version, '2.0');
        assert.equal(server.stats.batches, 1);
        assert.deepEqual(await h().refinery.pusher.runOnce(), [], 'nothing is left to push');
      } finally {
        await server.stop();
      }
    });

    it('a push robot answering 202 uploads and posts its results later, and the request completes', async () => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const { robot, server } = await pushRobot((r) =>
        servePushRobot({
          url: h().url,
          robotId: r.id,
          secret: r.secret,
          mode: 'async',
          log: silentLogger,
          handler: async (record) => {
            await held;
            return { type: 'annotation', content: { later: record.id } };
          },
        }),
      );
      try {
        const { requestId, recordIds } = await requestFor(robot, 4);
        const outcomes = await h().refinery.pusher.runOnce();
        assert.deepEqual(outcomes.map((o) => o.outcome), ['accepted']);
        // Answered 202 while the handler still works: the items stay leased.
        assert.deepEqual((await items(requestId)).map((i) => i.status), ['leased', 'leased', 'leased', 'leased']);
        release();
        const done = await eventually(async () => {
          const r = await request(requestId);
          return r.status === 'completed' ? r : undefined;
        }, 15_000, 'the request to complete');
        assert.equal(done.counts.completed, 4);
        const record = (await h().api('GET', `/v1/records/${recordIds[0]}`)).body;
        assert.deepEqual(record.enhancements[0].content, { later: recordIds[0] });
      } finally {
        await server.stop();
      }
    });

    it('a started dispatcher is woken at once by the NOTIFY of a new request, not by its interval', async () => {
      const { robot, server } = await pushRobot((r) =>
        servePushRobot({ url: h().url, robotId: r.id, secret: r.secret, mode: 'sync', log: silentLogger, handler: () => ({ type: 'annotation', content: { woken: true } }) }),
      );
      const pusher = createPushDispatcher({ ctx: h().refinery.ctx, config: { intervalMs: 3600_000 } });
      pusher.start();
      pusher.start(); // again: harmless
      try {
        const { requestId } = await requestFor(robot, 2);
        const done = await eventually(async () => {
          const r = await request(requestId);
          return r.status === 'completed' ? r : undefined;
        }, 10_000, 'the pushed request to complete');
        assert.equal(done.counts.completed, 2);
        assert.equal(server.stats.deliveries, 1);
      } finally {
        await pusher.stop();
        await pusher.stop();
        await server.stop();
      }
    });

    it('deliveries go out several at once, bounded per robot', async () => {
      const waiting: ServerResponse[] = [];
      let most = 0;
      const rx = await receiver((_, response) => {
        waiting.push(response);
        most = Math.max(most, waiting.length);
        // Answer once two are in flight together: a dispatcher delivering one at a time never gets here.
        if (waiting.length === 2) for (const r of waiting.splice(0)) r.writeHead(202).end();
      });
      const pusher = createPushDispatcher({ ctx: h().refinery.ctx, config: { maxInFlightPerRobot: 2, timeoutMs: 5_000 } });
      try {
        const robot = await h().createRobot({ max_batch_size: 1, delivery: { mode: 'push', url: rx.url } });
        const { requestId } = await requestFor(robot, 3);
        const outcomes = await pusher.runOnce();
        assert.deepEqual(outcomes.map((o) => o.outcome), ['accepted', 'accepted']);
        assert.equal(most, 2);
        const statuses = (await items(requestId)).map((i) => i.status).sort();
        assert.deepEqual(statuses, ['leased', 'leased', 'pending']);
        // Paused, so the tests after this one do not push its third item.
        assert.equal((await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: false } })).status, 200);
      } finally {
        await pusher.stop();
        await rx.close();
      }
    });

    it('the toy robot, registered through the CLI with --push-url, serves pushed batches both ways', async () => {
      const port = await deadPort();
      const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
      const created = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', cli, 'robots', 'create', '--name', `toy-push-${Date.now()}`, '--accepts', 'reference', '--produces', 'annotation', '--push-url', `http://127.0.0.1:${port}/`],
        { env: { ...process.env, REFINERY_URL: h().url, REFINERY_API_KEY: h().adminKey, CI: 'true' } },
      );
      const robot = JSON.parse(created.stdout) as ProvisionedRobot;
      assert.deepEqual(robot.delivery, { mode: 'push', url: `http://127.0.0.1:${port}/` });
      for (const mode of ['sync', 'async'] as const) {
        const toy = await serveToyPushRobot({ url: h().url, robotId: robot.id, secret: robot.secret, port, mode, quiet: true });
        try {
          const { requestId, recordIds } = await requestFor(robot, 5);
          const outcomes = await h().refinery.pusher.runOnce();
          assert.deepEqual(outcomes.map((o) => o.outcome), [mode === 'sync' ? 'imported' : 'accepted']);
          const done = await eventually(async () => {
            const r = await request(requestId);
            return r.status === 'completed' ? r : undefined;
          }, 15_000, `the ${mode} request to complete`);
          assert.equal(done.counts.completed, 5);
          const record = (await h().api('GET', `/v1/records/${recordIds[4]}`)).body;
          assert.equal(record.enhancements[0].content.annotations[0].scheme, 'meta:toy');
        } finally {
          await toy.stop();
        }
      }
    });

    it('the SDK push server refuses a bad signature with 401 and never runs the handler', async () => {
      let handled = 0;
      const robot = await h().createRobot({ delivery: { mode: 'push', url: 'http://127.0.0.1:9/' } });
      const server = await servePushRobot({
        url: h().url,
        robotId: robot.id,
        secret: robot.secret,
        mode: 'sync',
        log: silentLogger,
        handler: () => {
          handled++;
          return null;
        },
      });
      try {
        const body = JSON.stringify({ id: '0190d1a2-0000-7000-8000-000000000000', lease_token: 't', lease_expires_at: new Date().toISOString(), attempt: 1, item_count: 1, items_url: 'http://127.0.0.1:9/i', results_url: 'http://127.0.0.1:9/r' });
        const post = (headers: Record<string, string>) => fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
        const signed = (secret: string, at: Date) => {
          const id = pushMessageId('0190d1a2-0000-7000-8000-000000000000', 1);
          return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(pushSigningSecret(secret)).sign(id, at, body) };
        };
        const unsigned = await post({});
        assert.equal(unsigned.status, 401);
        assert.equal((await unsigned.json()).error.code, 'bad_signature');
        const otherKey = await post(signed('rs_someone-elses-secret', new Date()));
        assert.equal(otherKey.status, 401);
        assert.match((await otherKey.json()).error.message, /No matching signature/);
        const tampered = await post({ ...signed(robot.secret, new Date()), 'webhook-id': 'another-id' });
        assert.equal(tampered.status, 401);
        const stale = await post(signed(robot.secret, new Date(Date.now() - 10 * 60_000)));
        assert.equal(stale.status, 401);
        assert.match((await stale.json()).error.message, /too old/);
        assert.equal(handled, 0);
        assert.equal(server.stats.refused, 4);
        assert.equal(server.stats.deliveries, 0);
      } finally {
        await server.stop();
      }
    });

    it('a receiver answering 429 with Retry-After gets the batch again after the wait, no attempt counted', async () => {
      const rx = await receiver(async ({ n, body }, response) => {
        if (n === 1) {
          response.writeHead(429, { 'retry-after': '30' }).end('slow down');
          return;
        }
        response.writeHead(200, { 'content-type': 'application/x-ndjson' }).end(await annotate(JSON.parse(body).items_url));
      });
      try {
        const robot = await h().createRobot({ delivery: { mode: 'push', url: rx.url } });
        const { requestId } = await requestFor(robot, 2);
        const first = await h().refinery.pusher.runOnce();
        assert.equal(first.length, 1);
        assert.equal(first[0]!.outcome, 'deferred');
        let listed = await items(requestId);
        assert.deepEqual(listed.map((i) => [i.status, i.attempts, i.error?.code]), [['pending', 0, 'robot_busy'], ['pending', 0, 'robot_busy']]);
        assert.match(listed[0]!.error!.message, /429 with Retry-After.*no attempt counted/);

        advance(29_000);
        assert.deepEqual(await h().refinery.pusher.runOnce(), [], 'not before Retry-After');
        assert.equal(rx.calls.length, 1);
        advance(2_000);
        const second = await h().refinery.pusher.runOnce();
        assert.deepEqual(second.map((o) => o.outcome), ['imported']);
        assert.equal(rx.calls.length, 2);

        // Each delivery is signed per Standard Webhooks with the robot's secret, any library verifies it.
        for (const call of rx.calls) {
          const batch = new Webhook(pushSigningSecret(robot.secret)).verify(call.body, call.headers as Record<string, string>) as { id: string; attempt: number; lease_token: string };
          assert.equal(call.headers['webhook-id'], pushMessageId(batch.id, batch.attempt));
          assert.equal(batch.attempt, 1);
          assert.ok(batch.lease_token);
        }
        assert.notEqual(rx.calls[0]!.headers['webhook-id'], rx.calls[1]!.headers['webhook-id']);
        assert.equal((await request(requestId)).status, 'completed');
        listed = await items(requestId);
        assert.deepEqual(listed.map((i) => [i.status, i.attempts, i.error]), [['completed', 1, null], ['completed', 1, null]]);
      } finally {
        await rx.close();
      }
    });

    it('a refused connection is retried with backoff, then the items fail past max_attempts saying why', async () => {
      const port = await deadPort();
      const robot = await h().createRobot({ max_attempts: 3, delivery: { mode: 'push', url: `http://127.0.0.1:${port}/push` } });
      const { requestId } = await requestFor(robot, 2);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const outcomes = await h().refinery.pusher.runOnce();
        assert.equal(outcomes.length, 1, `attempt ${attempt} is delivered`);
        assert.equal(outcomes[0]!.outcome, 'failed');
        const listed = await items(requestId);
        assert.ok(listed.every((i) => i.attempts === attempt && i.error?.code === 'delivery_failed'));
        if (attempt < 3) {
          assert.ok(listed.every((i) => i.status === 'pending'));
          assert.match(listed[0]!.error!.message, new RegExp(`connection refused \\(attempt ${attempt} of 3; will retry\\)`));
          // The backoff holds the next attempt back; past its longest, it goes out.
          assert.deepEqual(await h().refinery.pusher.runOnce(), [], 'not before the backoff');
          advance(retryBackoff.baseMs * 2 ** (attempt - 1) + 1);
        } else {
          assert.ok(listed.every((i) => i.status === 'failed'));
          assert.equal(listed[0]!.error!.message, `push delivery to http://127.0.0.1:${port}/push failed: connection refused (attempt 3 of 3)`);
        }
      }
      assert.equal((await request(requestId)).status, 'failed');
      assert.deepEqual(await h().refinery.pusher.runOnce(), []);
    });

    it('a receiver that does not answer within the timeout counts a failed attempt', async () => {
      const rx = await receiver(() => {
        // never answers
      });
      const pusher = createPushDispatcher({ ctx: h().refinery.ctx, config: { timeoutMs: 300 } });
      try {
        const robot = await h().createRobot({ max_attempts: 1, delivery: { mode: 'push', url: rx.url } });
        const { requestId } = await requestFor(robot, 1);
        const outcomes = await pusher.runOnce();
        assert.equal(outcomes[0]!.outcome, 'failed');
        const [item] = await items(requestId);
        assert.equal(item!.status, 'failed');
        assert.equal(item!.error!.message, `push delivery to ${rx.url} failed: no answer within 0.3 s (attempt 1 of 1)`);
      } finally {
        await pusher.stop();
        await rx.close();
      }
    });

    it('stopping the dispatcher mid-delivery gives the batch back at once, no attempt counted', async () => {
      let arrived!: () => void;
      const delivered = new Promise<void>((r) => (arrived = r));
      const rx = await receiver(() => arrived()); // and never answers
      const pusher = createPushDispatcher({ ctx: h().refinery.ctx });
      try {
        const robot = await h().createRobot({ delivery: { mode: 'push', url: rx.url } });
        const { requestId } = await requestFor(robot, 2);
        const pass = pusher.runOnce();
        await delivered;
        assert.deepEqual((await items(requestId)).map((i) => i.status), ['leased', 'leased']);
        await pusher.stop();
        assert.deepEqual((await pass).map((o) => o.outcome), ['interrupted']);
        const listed = await items(requestId);
        assert.deepEqual(listed.map((i) => [i.status, i.attempts, i.error?.code]), [['pending', 0, 'delivery_interrupted'], ['pending', 0, 'delivery_interrupted']]);
        // Paused, so the tests after this one do not push it again (to a receiver that never answers).
        assert.equal((await h().api('PATCH', `/v1/robots/${robot.id}`, { body: { active: false } })).status, 200);
      } finally {
        await pusher.stop();
        await rx.close();
      }
    });

    it('a 500 answer is a failed attempt quoting the robot', async () => {
      const rx = await receiver((_, response) => {
        response.writeHead(500).end('{"error":"disk full"}');
      });
      try {
        const robot = await h().createRobot({ max_attempts: 1, delivery: { mode: 'push', url: rx.url } });
        const { requestId } = await requestFor(robot, 1);
        await h().refinery.pusher.runOnce();
        const [item] = await items(requestId);
        assert.equal(item!.status, 'failed');
        assert.equal(item!.error!.message, `push delivery to ${rx.url} failed: the robot answered 500 Internal Server Error: {"error":"disk full"} (attempt 1 of 1)`);
      } finally {
        await rx.close();
      }
    });
  },
  { manualClock: true },
);
