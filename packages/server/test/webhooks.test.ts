import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createEventSender } from '../src/events/sender.ts';
import { describeEachBackend } from './support/harness.ts';
import { requesterKey, twoBatchRequest } from './support/requestEvents.ts';

type Mode = 'fail' | 'busy' | 'slow' | 'ok';

interface Received {
  id: string;
  headers: Record<string, string>;
  body: string;
}

/** A webhook receiver on a loopback port that answers as `mode` says; every call is kept. */
async function startReceiver(mode: Mode = 'ok') {
  const received: Received[] = [];
  const slowAnswers: Array<Promise<void>> = [];
  const state = { mode };
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ id: String(req.headers['webhook-id']), headers: flat(req.headers), body });
      if (state.mode === 'fail') return void res.writeHead(500).end('down for maintenance');
      if (state.mode === 'ok') return void res.writeHead(204).end();
      if (state.mode === 'busy') return void res.writeHead(503, { 'retry-after': '120' }).end();
      slowAnswers.push(new Promise((resolve) => setTimeout(() => (res.writeHead(200).end(), resolve()), 800)));
    });
  };
  let server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/refinery`,
    received,
    state,
    slowAnswers,
    /** Stops listening: the next calls are refused. */
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    /** Listens again on the same port. */
    async reopen() {
      server = createServer(handler);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

function flat(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
}

/** The received calls, first receipt of each webhook-id only. */
const dedupe = (received: Received[]) => received.filter((r, i) => received.findIndex((x) => x.id === r.id) === i);

// The outbox sender delivering request events to a callback URL, signed per Standard Webhooks.
describeEachBackend(
  'webhooks',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);
    const eventsOf = async (requestId: string) =>
      (await h().refinery.ctx.db.query<{ id: string; type: string }>(`select e.id::text, e.type from events e where e.request_id = $1::uuid order by e.id`, [requestId])).rows;

    it("GET /v1/webhook-secret gives each key its own secret, the same every time", async () => {
      const a = await requesterKey(h());
      const b = await requesterKey(h());
      const first = await h().api('GET', '/v1/webhook-secret', { key: a });
      assert.equal(first.status, 200);
      assert.match(first.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal((await h().api('GET', '/v1/webhook-secret', { key: a })).body.secret, first.body.secret);
      assert.notEqual((await h().api('GET', '/v1/webhook-secret', { key: b })).body.secret, first.body.secret);
      assert.equal((await h().api('GET', '/v1/webhook-secret', { key: null })).status, 401);
    });

    it('a receiver that fails (500, refused, too slow) and then recovers gets every event once, in order, validly signed', async () => {
      const key = await requesterKey(h());
      const secret = (await h().api('GET', '/v1/webhook-secret', { key })).body.secret as string;
      const receiver = await startReceiver('fail');
      const sender = createEventSender({ ctx: h().refinery.ctx, config: { timeoutMs: 300, backoffBaseMs: 200, backoffCapMs: 1000 } });
      const r = await twoBatchRequest(h(), key, { callback_url: receiver.url });

      await r.run(async (step) => {
        if (step === 'leased A' || step === 'leased B') {
          // 500s: the first event is tried again and again; none after it goes out before it.
          await sender.runOnce();
          assert.ok(receiver.received.length >= 1);
          assert.ok(receiver.received.every((x) => x.id === receiver.received[0].id), 'only the first event is tried while it fails');
        }
        if (step === 'completed A') {
          await receiver.close();
          // The first try may find the kept-alive connection closed under it; the next one is refused.
          assert.equal((await sender.runOnce()).delivered, 0);
          advance(2000);
          assert.equal((await sender.runOnce()).delivered, 0);
          const { rows } = await h().refinery.ctx.db.query<{ last_error: string }>(
            `select last_error from webhook_deliveries where request_id = $1::uuid and delivered_at is null order by event_id limit 1`,
            [r.requestId],
          );
          assert.match(rows[0].last_error, /ECONNREFUSED/);
        }
        if (step === 'completed B') {
          await receiver.reopen();
          receiver.state.mode = 'slow';
          const pass = await sender.runOnce();
          assert.equal(pass.delivered, 0, 'an answer after the time-out is a failure');
          await Promise.all(receiver.slowAnswers);
        }
      });

      receiver.state.mode = 'ok';
      const events = await eventsOf(r.requestId);
      for (let i = 0; i < 40 && dedupe(receiver.received).length < events.length; i++) {
        advance(2000);
        await sender.runOnce();
      }
      await receiver.close();

      // Progress: lease B; results of A (importing); A's completion, held back by the throttle and
      // written by the sender's trailing pass 2 s later; results of B.
      assert.deepEqual(events.map((e) => e.type), ['request.started', 'request.progress', 'request.progress', 'request.progress', 'request.progress', 'request.finished']);
      // Every event, in order, once after dedupe by webhook-id; attempts never ran ahead of an undelivered event.
      const unique = dedupe(receiver.received);
      assert.deepEqual(unique.map((x) => x.id), events.map((e) => e.id));
      const attempted = receiver.received.map((x) => BigInt(x.id));
      assert.ok(attempted.every((id, i) => i === 0 || id >= attempted[i - 1]), `attempts out of order: ${attempted.join(',')}`);
      assert.ok(receiver.received.length >= unique.length + 3, 'the failures made the receiver see duplicates');

      const webhook = new Webhook(secret);
      for (const [i, x] of unique.entries()) {
        const body = webhook.verify(x.body, x.headers) as { type: string; timestamp: string; data: { request_id: string; status: string; counts: Record<string, number> } };
        assert.equal(body.type, events[i].type);
        assert.equal(body.data.request_id, r.requestId);
        assert.equal(x.headers['content-type'], 'application/json');
      }
      assert.throws(() => new Webhook(secret).verify(unique[0].body.replace('request', 'requesT'), unique[0].headers));
      const finished = webhook.verify(unique.at(-1)!.body, unique.at(-1)!.headers) as { data: { status: string; counts: Record<string, number> } };
      assert.equal(finished.data.status, 'completed');
      assert.equal(finished.data.counts.completed, 4);
      const progress = unique.slice(1, -1).map((x) => (webhook.verify(x.body, x.headers) as { data: { counts: Record<string, number> } }).data.counts);
      assert.deepEqual(progress.map((c) => [c.leased, c.importing, c.completed]), [[4, 0, 0], [2, 2, 0], [2, 0, 2], [0, 2, 2]]);

      const open = await h().refinery.ctx.db.query(`select 1 from webhook_deliveries where request_id = $1::uuid and delivered_at is null`, [r.requestId]);
      assert.equal(open.rows.length, 0);
    });

    it('two senders running at once deliver each event exactly once, in order', async () => {
      const key = await requesterKey(h());
      const receiver = await startReceiver('ok');
      const r = await twoBatchRequest(h(), key, { callback_url: receiver.url });
      await r.run();
      const senders = [createEventSender({ ctx: h().refinery.ctx }), createEventSender({ ctx: h().refinery.ctx })];
      const events = await eventsOf(r.requestId);
      for (let i = 0; i < 20 && receiver.received.length < events.length; i++) await Promise.all(senders.map((s) => s.runOnce()));
      await receiver.close();
      assert.deepEqual(receiver.received.map((x) => x.id), events.map((e) => e.id));
    });

    it("a receiver's Retry-After is honoured", async () => {
      const key = await requesterKey(h());
      const receiver = await startReceiver('busy');
      const r = await twoBatchRequest(h(), key, { callback_url: receiver.url });
      assert.equal((await h().robotCall(r.robot, 'POST', '/v1/batches/lease')).status, 200); // request.started
      const sender = h().refinery.maintenance.eventSender;
      assert.equal((await sender.runOnce()).failed, 1);
      receiver.state.mode = 'ok';
      advance(100_000); // the backoff alone (1 s) has passed, the receiver's 120 s not
      assert.equal((await sender.runOnce()).delivered, 0);
      assert.equal(receiver.received.length, 1);
      advance(21_000);
      assert.equal((await sender.runOnce()).delivered, 1);
      assert.deepEqual(receiver.received.map((x) => x.id), [receiver.received[0].id, receiver.received[0].id]);
      await receiver.close();
    });

    it('a request without a callback_url has its events but no deliveries', async () => {
      const key = await requesterKey(h());
      const r = await twoBatchRequest(h(), key);
      await r.run();
      assert.equal((await eventsOf(r.requestId)).at(-1)?.type, 'request.finished');
      const { rows } = await h().refinery.ctx.db.query(`select 1 from webhook_deliveries where request_id = $1::uuid`, [r.requestId]);
      assert.equal(rows.length, 0);
    });
  },
  { manualClock: true },
);
