import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { ResultLine } from '@refinery/protocol';
import { BatchError, jsonLogger, RecordError, runRobot, silentLogger, type RunRobotOptions } from '../src/index.ts';
import { errorReply } from './http-server.ts';
import { records, robotId, secret, startRobotApi, type RobotApi } from './robot-api.ts';

// A fresh API per test: a lease call the previous robot aborted on stop may still reach its server.
let api: RobotApi;
beforeEach(async () => {
  api = await startRobotApi();
});
afterEach(() => api.close());

type HandlerOptions = Pick<RunRobotOptions, 'handler'> | Pick<RunRobotOptions, 'handleBatch'>;

function start(handler: HandlerOptions, options: Partial<RunRobotOptions> = {}) {
  return runRobot({ url: api.url, robotId, secret, handleSignals: false, log: process.env.TEST_LOG ? jsonLogger({ level: 'debug', stream: process.stderr }) : silentLogger, wait: 0, ...options, ...handler } as RunRobotOptions);
}

function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

test('records stream through the handler into the results; a thrown error fails only its record', async () => {
  api.queue(records(5, 'a'));
  api.queue(records(3, 'b'));
  const robot = start(
    {
      handler: (record) => {
        if (record.id === 'a-3') throw new Error('cannot read this one');
        if (record.id === 'b-0') return null;
        return { type: 'annotation', content: { of: record.id } };
      },
    },
    { robotVersion: '1.2.3', limit: 10, concurrency: 2 },
  );
  await api.posted(2);
  await robot.stop();
  const [a, b] = api.leased;
  assert.deepEqual(a!.posted, { lease_token: a!.batch.lease_token });
  assert.deepEqual(
    a!.results!.find((l) => l.record_id === 'a-3'),
    { record_id: 'a-3', error: { message: 'cannot read this one' } },
  );
  assert.deepEqual(a!.results!.find((l) => l.record_id === 'a-0'), { record_id: 'a-0', type: 'annotation', content: { of: 'a-0' }, robot_version: '1.2.3' });
  assert.equal(a!.results!.length, 5);
  assert.equal(b!.results!.length, 2, 'an empty answer leaves the record unanswered');
  assert.deepEqual(robot.stats, { batches: 2, records: 8, recordErrors: 1, batchErrors: 0, leasesLost: 0 });
});

for (const recordConcurrency of [1, 3]) {
  test(`an asynchronous handler, ${recordConcurrency} record(s) at a time: every record answered, a rejected RecordError fails only its record`, async () => {
    api.queue(records(6, 'g'));
    const robot = start(
      {
        handler: async (record) => {
          await new Promise((r) => setTimeout(r, 1));
          if (record.id === 'g-1') throw new RecordError('rate limited', { retryable: true });
          if (record.id === 'g-4') return undefined;
          return { type: 'annotation', content: { of: record.id } };
        },
      },
      { robotVersion: '2.0.0', recordConcurrency },
    );
    await api.posted(1);
    await robot.stop();
    const results = api.leased[0]!.results!;
    assert.deepEqual(results.map((l) => l.record_id).sort(), ['g-0', 'g-1', 'g-2', 'g-3', 'g-5']);
    assert.deepEqual(results.find((l) => l.record_id === 'g-1'), { record_id: 'g-1', error: { message: 'rate limited', retryable: true } });
    assert.deepEqual(results.find((l) => l.record_id === 'g-5'), { record_id: 'g-5', type: 'annotation', content: { of: 'g-5' }, robot_version: '2.0.0' });
    assert.deepEqual(robot.stats, { batches: 1, records: 6, recordErrors: 1, batchErrors: 0, leasesLost: 0 });
  });
}

test('a batch handler sees the records as a stream and yields lines', async () => {
  api.queue(records(4, 'c'));
  const robot = start({
    handleBatch: async function* (recs) {
      for await (const record of recs) yield { record_id: record.id, type: 'count', content: { n: 1 } } satisfies ResultLine;
    },
  });
  await api.posted(1);
  await robot.stop();
  assert.deepEqual(api.leased[0]!.results!.map((l) => l.record_id), ['c-0', 'c-1', 'c-2', 'c-3']);
});

test('a BatchError fails the whole batch with its message and retryable flag', async () => {
  api.queue(records(2, 'd'));
  const robot = start({
    handler: () => {
      throw new BatchError('model is offline', { retryable: false });
    },
  });
  await api.posted(1);
  await robot.stop();
  const [d] = api.leased;
  assert.deepEqual(d!.posted, { lease_token: d!.batch.lease_token, error: { message: 'model is offline', retryable: false } });
  assert.equal(robot.stats.batchErrors, 1);
});

test('a download that fails until the lease ends gives the batch back as retryable', async () => {
  api.queue(records(2, 'e'), { brokenItems: true, leaseMs: 1_500 });
  const robot = start({ handler: () => ({ type: 't', content: {} }) });
  await api.posted(1);
  await robot.stop();
  const error = api.leased[0]!.posted!.error!;
  assert.equal(error.retryable, true);
  assert.match(error.message, /could not download the items: disk on fire/);
});

test('the lease is renewed while a batch is worked, and a lost lease drops the batch', async () => {
  api.queue(records(1, 'f'));
  let renewals = 0;
  api.onRenew = () => (++renewals >= 2 ? errorReply(409, 'lease_expired', 'too late') : undefined);
  let handlerAborted = false;
  const robot = start(
    {
      handler: async (_record, ctx) => {
        await whenAborted(ctx.signal);
        handlerAborted = true;
        return { type: 't', content: {} };
      },
    },
    { lease: 3 },
  );
  try {
    while (robot.stats.leasesLost === 0) await new Promise((r) => setTimeout(r, 50));
  } finally {
    api.onRenew = undefined;
  }
  await robot.stop();
  const [f] = api.leased;
  assert.equal(f!.renewals, 2);
  assert.equal(f!.posted, undefined, 'nothing is posted for a lost lease');
  assert.equal(handlerAborted, true);
});

test('on stop, a batch in flight finishes when it can…', async () => {
  api.queue(records(2, 'g'));
  let started!: () => void;
  const handlerStarted = new Promise<void>((resolve) => (started = resolve));
  const robot = start({
    handler: async () => {
      started();
      await new Promise((r) => setTimeout(r, 200));
      return { type: 't', content: {} };
    },
  });
  await handlerStarted;
  await robot.stop();
  const [g] = api.leased;
  assert.deepEqual(g!.posted, { lease_token: g!.batch.lease_token });
  assert.equal(g!.results!.length, 2);
});

test('…and is given back, retryable, when it cannot finish before the deadline', async () => {
  api.queue(records(2, 'h'));
  let started!: () => void;
  const handlerStarted = new Promise<void>((resolve) => (started = resolve));
  const robot = start({
    handler: async (_record, ctx) => {
      started();
      await whenAborted(ctx.signal);
      return { type: 't', content: {} };
    },
  });
  await handlerStarted;
  const stoppedAt = Date.now();
  await robot.stop({ timeoutMs: 100 });
  assert.ok(Date.now() - stoppedAt < 2_000);
  const [h] = api.leased;
  assert.deepEqual(h!.posted, { lease_token: h!.batch.lease_token, error: { message: 'robot shutting down', retryable: true } });
});

test('transient lease failures are retried; the loop carries on', async () => {
  api.queue(records(1, 'i'));
  let failures = 0;
  api.onLease = () => (failures++ < 1 ? errorReply(503, 'unavailable', 'restarting') : undefined);
  try {
    const robot = start({ handler: () => ({ type: 't', content: {} }) });
    await api.posted(1);
    await robot.stop();
  } finally {
    api.onLease = undefined;
  }
  assert.equal(api.leased[0]!.results!.length, 1);
});

test('a results post answered 503 is posted again no sooner than its Retry-After asks', async () => {
  api.queue(records(1, 'j'));
  const posts: number[] = [];
  api.onResults = () => {
    posts.push(Date.now());
    return posts.length === 1 ? { ...errorReply(503, 'unavailable', 'restarting'), headers: { 'retry-after': '2' } } : undefined;
  };
  try {
    const robot = start({ handler: () => ({ type: 't', content: {} }) });
    await api.posted(1);
    await robot.stop();
  } finally {
    api.onResults = undefined;
  }
  assert.equal(posts.length, 2);
  assert.ok(posts[1]! - posts[0]! >= 1_900, `posted again after ${posts[1]! - posts[0]!} ms`);
  assert.deepEqual(api.leased[0]!.posted, { lease_token: api.leased[0]!.batch.lease_token });
});

test('aborting the signal option stops the robot', async () => {
  const controller = new AbortController();
  const robot = start({ handler: () => null }, { signal: controller.signal, wait: 'PT5S' });
  await new Promise((r) => setTimeout(r, 50));
  controller.abort();
  await robot.done;
});
