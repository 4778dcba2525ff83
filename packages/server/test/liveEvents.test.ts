import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { parseServerSentEvents, RefineryClient, type RequestEvent } from '@refinery/sdk';
import { loadConfig } from '../src/config.ts';
import { createRefinery } from '../src/refinery.ts';
import { describeEachBackend, eventually, testMasterKey } from './support/harness.ts';
import { requesterKey, twoBatchRequest } from './support/requestEvents.ts';

// GET /v1/requests/{id}/events: Server-Sent Events from the events table, live and resumable.
describeEachBackend(
  'live events',
  (h) => {
    const advance = (ms: number) => (h().clock as unknown as { advance(ms: number): void }).advance(ms);
    const client = (apiKey: string) => new RefineryClient({ url: h().url, apiKey });

    /** Collects a stream's events until it ends (or `signal` aborts it). */
    function collect(stream: AsyncIterable<RequestEvent>) {
      const got: RequestEvent[] = [];
      const done = (async () => {
        for await (const e of stream) got.push(e);
        return got;
      })();
      return { got, done };
    }

    /** The raw stream: status, content type and the events parsed from the body, once it ends. */
    async function raw(path: string, key: string, headers: Record<string, string> = {}) {
      const res = await fetch(h().url + path, { headers: { authorization: `Bearer ${key}`, ...headers }, signal: AbortSignal.timeout(15_000) });
      if (!res.ok) return { status: res.status, type: res.headers.get('content-type'), events: [], body: await res.json() };
      const events = [];
      for await (const e of parseServerSentEvents(res.body!)) events.push(e);
      return { status: res.status, type: res.headers.get('content-type'), events, body: null };
    }

    it('follows a request live: started, progress with counts, and request.finished ends the stream', async () => {
      const key = await requesterKey(h());
      const r = await twoBatchRequest(h(), key);
      let connections = 0;
      const counting = new RefineryClient({ url: h().url, apiKey: key, fetch: (input, init) => (connections++, fetch(input, init)) });
      const stream = collect(counting.streamRequestEvents(r.requestId, { signal: AbortSignal.timeout(20_000) }));
      const expectAt: Record<string, number> = { 'leased A': 1, 'leased B': 2, 'completed A': 3, 'completed B': 5 };
      // Each step's events reach the open stream before the next step: it follows, not replays.
      await r.run(async (step) => {
        await eventually(async () => (stream.got.length >= expectAt[step] ? true : undefined), 10_000, `${expectAt[step]} events after ${step}`);
      });
      const events = await stream.done;
      assert.equal(connections, 1, 'one connection followed the request from start to end');

      assert.deepEqual(events.map((e) => e.type), ['request.started', 'request.progress', 'request.progress', 'request.progress', 'request.finished']);
      assert.ok(events.every((e, i) => i === 0 || BigInt(e.id) > BigInt(events[i - 1].id)), 'ids increase');
      assert.ok(events.every((e) => e.data.request_id === r.requestId));
      assert.deepEqual(events[0].data.counts, { pending: 2, leased: 2, importing: 0, completed: 0, discarded: 0, failed: 0, denied: 0, expired: 0, cancelled: 0 });
      assert.equal(events[0].data.status, 'processing');
      assert.deepEqual(events.slice(1, 4).map((e) => [e.data.counts.leased, e.data.counts.importing, e.data.counts.completed]), [[4, 0, 0], [2, 2, 0], [0, 2, 2]]);
      assert.equal(events[4].data.status, 'completed');
      assert.equal(events[4].data.total, 4);
      assert.equal(events[4].data.counts.completed, 4);
    });

    it('a request already final sends its events and ends; Last-Event-ID (header or query) resumes after that event', async () => {
      const key = await requesterKey(h());
      const r = await twoBatchRequest(h(), key);
      await r.run();
      const path = `/v1/requests/${r.requestId}/events`;

      const all = await raw(path, key);
      assert.equal(all.status, 200);
      assert.match(all.type ?? '', /^text\/event-stream/);
      assert.deepEqual(all.events.map((e) => e.event), ['request.started', 'request.progress', 'request.progress', 'request.progress', 'request.finished']);
      const ids = all.events.map((e) => e.id!);

      const resumed = await raw(path, key, { 'last-event-id': ids[1] });
      assert.deepEqual(resumed.events.map((e) => e.id), ids.slice(2));
      const byQuery = await raw(`${path}?last_event_id=${ids[3]}`, key);
      assert.deepEqual(byQuery.events.map((e) => e.id), ids.slice(4));
      assert.deepEqual(JSON.parse(byQuery.events[0].data).counts.completed, 4);
      const afterLast = await raw(path, key, { 'last-event-id': ids[4] });
      assert.equal(afterLast.status, 200);
      assert.deepEqual(afterLast.events, []);

      const sdk = collect(client(key).streamRequestEvents(r.requestId, { lastEventId: ids[2], signal: AbortSignal.timeout(15_000) }));
      assert.deepEqual((await sdk.done).map((e) => e.id), ids.slice(3));

      const bad = await raw(path, key, { 'last-event-id': 'yesterday' });
      assert.equal(bad.status, 400);
    });

    // Another requester's stream (404): hostileCallers.test.ts.
    it('the owner and an admin may open a stream; an unknown request is 404, no key 401', async () => {
      const owner = await requesterKey(h());
      const r = await twoBatchRequest(h(), owner);
      await r.run();
      const path = `/v1/requests/${r.requestId}/events`;
      assert.equal((await raw(path, owner)).events.at(-1)?.event, 'request.finished');
      assert.equal((await raw(path, h().adminKey)).events.at(-1)?.event, 'request.finished');
      assert.equal((await raw('/v1/requests/01900000-0000-7000-8000-000000000000/events', owner)).status, 404);
      const anonymous = await fetch(h().url + path);
      assert.equal(anonymous.status, 401);
    });

    it('progress is throttled: moves within a second wait, and their counts come once the throttle has passed', async () => {
      const key = await requesterKey(h());
      const r = await twoBatchRequest(h(), key);
      const abort = new AbortController();
      const stream = collect(client(key).streamRequestEvents(r.requestId, { signal: abort.signal }));
      const lease = () => h().robotCall(r.robot, 'POST', '/v1/batches/lease');
      assert.equal((await lease()).status, 200);
      await eventually(async () => (stream.got.length === 1 ? true : undefined), 10_000, 'request.started');
      assert.equal((await lease()).status, 200); // the same instant: no progress event yet
      const written = async () => (await h().refinery.ctx.db.query(`select type from events where request_id = $1::uuid`, [r.requestId])).rows.length;
      assert.equal(await written(), 1);
      assert.equal((await h().refinery.maintenance.eventSender.runOnce()).progressWritten, 0, 'not before the throttle has passed');
      advance(1500);
      assert.equal((await h().refinery.maintenance.eventSender.runOnce()).progressWritten, 1);
      await eventually(async () => (stream.got.length === 2 ? true : undefined), 10_000, 'the trailing progress event');
      assert.equal(stream.got[1].type, 'request.progress');
      assert.equal(stream.got[1].data.counts.leased, 4);
      assert.equal((await h().refinery.maintenance.eventSender.runOnce()).progressWritten, 0, 'once');
      abort.abort();
      await assert.rejects(stream.done);
    });

    it('a stream on one process follows events written through another (PostgreSQL), and closing that process ends its streams', async (t) => {
      if (!h().databaseUrl) return t.skip('one process only on PGlite');
      const second = await createRefinery({
        config: loadConfig({ port: '0', host: '127.0.0.1', dataDir: h().dataDir, databaseUrl: h().databaseUrl!, adminKey: h().adminKey, logLevel: 'silent' }, { REFINERY_MASTER_KEY: testMasterKey }),
        clock: h().clock,
        log: pino({ level: 'silent' }),
        sweep: false,
      });
      try {
        const url = await second.listen();
        const key = await requesterKey(h());
        const r = await twoBatchRequest(h(), key);
        const remote = new RefineryClient({ url, apiKey: key });
        const stream = collect(remote.streamRequestEvents(r.requestId, { signal: AbortSignal.timeout(20_000) }));
        await r.run(async (step) => {
          if (step === 'leased A') await eventually(async () => (stream.got.length === 1 ? true : undefined), 10_000, 'request.started on the other process');
        });
        assert.equal((await stream.done).at(-1)?.type, 'request.finished');

        // An open stream does not keep the process from closing: it ends.
        const open = await twoBatchRequest(h(), key);
        const res = await fetch(`${url}/v1/requests/${open.requestId}/events`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(res.status, 200);
        const reading = res.text();
        await second.close();
        assert.equal((await reading).trim(), 'retry: 2000');
      } finally {
        await second.close();
      }
    });
  },
  { manualClock: true },
);
