import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { itemStatuses, requestOutcome, type ItemStatus, type ProvisionedRobot } from '@refinery/protocol';
import { newId } from '../src/ids.ts';
import { describeEachBackend, references, type Harness } from './support/harness.ts';
import { advance } from './support/lifecycle.ts';

// The item lifecycle as a user sees it, against a reference model of one record per item: random
// sequences of creates (some with a deadline, some naming a record that does not exist), leases,
// results (each line completed, failed retryable or not, rejected or left out), batch-wide
// errors, repeated and late hand-ins, cancels and clock moves (each past every lease and
// backoff, with the sweeper run after it) are replayed through the HTTP API. After every step,
// every item's status, attempts, batch, error and updated_at, each status filter, and every
// request's status and counts must be what the model says; at the end of a run, every finished
// request's manifest and its one `request.finished` event too.
//
// ITEM_MODEL_SEED replays a run (the seed is printed first); ITEM_MODEL_RUNS sets the runs per
// backend; ITEM_MODEL_SHRINK=1 shrinks a failing run; ITEM_MODEL_VERBOSE prints what each run reached.

const seed = process.env.ITEM_MODEL_SEED ? Number(process.env.ITEM_MODEL_SEED) : Math.floor(Math.random() * 2 ** 31);
const runs = process.env.ITEM_MODEL_RUNS ? Number(process.env.ITEM_MODEL_RUNS) : null;
/** Runs per backend by default: PGlite answers several times slower than PostgreSQL. */
const defaultRuns = { postgres: 25, pglite: 8 };
console.log(`# item model: seed ${seed} (replay with ITEM_MODEL_SEED=${seed}), ${runs ?? `${defaultRuns.postgres} (PGlite: ${defaultRuns.pglite})`} runs (ITEM_MODEL_RUNS)`);

/** Each clock move: past any lease (PT1M) and any backoff (attempts ≤ 3: at most 10 s). */
const step = 61_000;
const priorities = ['low', 'normal', 'high', 'critical'] as const;

type LineFate = 'complete' | 'retryable' | 'fatal' | 'rejected' | 'missing';
type Op =
  | { kind: 'create'; n: number; priority: (typeof priorities)[number]; deadlineSteps: number | null; unknownRecord: boolean }
  | { kind: 'lease'; limit: number }
  | { kind: 'results'; pick: number; fates: LineFate[] }
  | { kind: 'batchError'; pick: number; retryable: boolean }
  | { kind: 'advance' }
  | { kind: 'cancel'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), n: fc.integer({ min: 1, max: 5 }), priority: fc.constantFrom(...priorities), deadlineSteps: fc.option(fc.integer({ min: 0, max: 2 }), { freq: 3 }), unknownRecord: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('lease' as const), limit: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('results' as const), pick: fc.nat(), fates: fc.array(fc.constantFrom<LineFate>('complete', 'complete', 'retryable', 'fatal', 'rejected', 'missing'), { minLength: 6, maxLength: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('batchError' as const), pick: fc.nat(), retryable: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'advance' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
);

interface ModelItem {
  requestId: string;
  recordId: string;
  status: string;
  attempts: number;
  batchId: string | null;
  error: { code: string; message: string } | null;
  updatedAt: number;
  /** A pending item may be leased once the clock has moved more than this many times. */
  availableAfter: number;
}

interface ModelRequest {
  id: string;
  status: string;
  /** Its items, by record id. */
  items: Map<string, ModelItem>;
  expiresAt: number | null;
}

interface ModelBatch {
  id: string;
  leaseToken: string;
  resultsUrl: string;
  leaseExpiresAt: number;
  status: 'leased' | 'completed' | 'failed' | 'expired';
  items: ModelItem[];
}

const open = (s: string) => s === 'pending' || s === 'leased' || s === 'importing';
const openRequest = (r: ModelRequest) => r.status === 'received' || r.status === 'processing';
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

class Model {
  requests: ModelRequest[] = [];
  batches: ModelBatch[] = [];
  moves = 0;
  constructor(readonly maxAttempts: number) {}

  item(recordId: string): ModelItem | undefined {
    for (const r of this.requests) {
      const i = r.items.get(recordId);
      if (i) return i;
    }
    return undefined;
  }
  request(id: string): ModelRequest {
    return this.requests.find((r) => r.id === id)!;
  }
  leasable(): ModelItem[] {
    return this.requests.filter(openRequest).flatMap((r) => [...r.items.values()].filter((i) => i.status === 'pending' && i.availableAfter < this.moves));
  }
  set(i: ModelItem, now: number, status: string, error: ModelItem['error']) {
    Object.assign(i, { status, error, updatedAt: now });
  }
  /** A failed attempt: back to pending while `retryable` and attempts remain, else failed. */
  retryOrFail(i: ModelItem, now: number, code: string, message: string, retryable: boolean) {
    const retry = retryable && i.attempts < this.maxAttempts;
    this.set(i, now, retry ? 'pending' : 'failed', { code, message: `${message} (attempt ${i.attempts} of ${this.maxAttempts}${retry ? '; will retry' : ''})` });
    if (retry) i.availableAfter = this.moves;
  }
  /** The fan-in: requests with nothing open finish, once. */
  finish() {
    for (const r of this.requests.filter(openRequest)) {
      r.status = requestOutcome(this.counts(r)) ?? r.status;
    }
  }
  counts(r: ModelRequest): Record<ItemStatus, number> {
    const counts = Object.fromEntries(itemStatuses.map((s) => [s, 0])) as Record<ItemStatus, number>;
    for (const i of r.items.values()) counts[i.status as ItemStatus]++;
    return counts;
  }
}

/** One run: a fresh robot, then `ops` through the API, checked against the model after each. */
async function replay(h: Harness, maxAttempts: number, ops: Op[]): Promise<void> {
  const robot: ProvisionedRobot = await h.createRobot({ lease: 'PT1M', max_attempts: maxAttempts });
  const model = new Model(maxAttempts);
  const now = () => h.clock.now().getTime();
  const trace: string[] = [];

  const handIn = (b: ModelBatch, body: Record<string, unknown>) => h.robotCall(robot, 'POST', `/v1/batches/${b.id}/results`, { lease_token: b.leaseToken, ...body });

  for (const op of ops) {
    trace.push(JSON.stringify(op));
    const at = now();
    switch (op.kind) {
      case 'create': {
        const ids = await h.importRecords(references(op.n));
        const unknown = op.unknownRecord ? [newId()] : [];
        const expiresAt = op.deadlineSteps === null ? null : at + op.deadlineSteps * step + step / 2;
        const res = await h.api('POST', '/v1/requests', {
          body: { robot_id: robot.id, record_ids: [...ids, ...unknown], priority: op.priority, ...(expiresAt !== null && { expires_at: new Date(expiresAt).toISOString() }) },
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
        const items = new Map<string, ModelItem>();
        const item = (recordId: string, status: string, error: ModelItem['error']): ModelItem => ({ requestId: res.body.id, recordId, status, attempts: 0, batchId: null, error, updatedAt: at, availableAfter: -1 });
        for (const id of ids) items.set(id, item(id, 'pending', null));
        for (const id of unknown) items.set(id, item(id, 'denied', { code: 'record_not_found', message: `record ${id} does not exist` }));
        model.requests.push({ id: res.body.id, status: 'received', items, expiresAt });
        model.finish();
        break;
      }
      case 'lease': {
        const res = await h.robotCall(robot, 'POST', `/v1/batches/lease?limit=${op.limit}`);
        const leasable = model.leasable();
        const expected = Math.min(op.limit, leasable.length);
        if (expected === 0) {
          assert.equal(res.status, 204, `nothing is leasable, yet: ${JSON.stringify(res.body)}`);
          break;
        }
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const text = await (await fetch(res.body.items_url)).text();
        const recordIds: string[] = text.trim().split('\n').map((l) => JSON.parse(l).record.id);
        assert.equal(recordIds.length, expected, 'the batch holds as many items as are leasable, up to the limit');
        assert.equal(res.body.item_count, expected);
        const items = recordIds.map((id) => model.item(id));
        for (const [k, i] of items.entries()) assert.ok(i && leasable.includes(i), `record ${recordIds[k]} was not leasable`);
        const batch: ModelBatch = { id: res.body.id, leaseToken: res.body.lease_token, resultsUrl: res.body.results_url, leaseExpiresAt: at + 60_000, status: 'leased', items: items as ModelItem[] };
        for (const i of batch.items) {
          i.attempts++;
          i.batchId = batch.id;
          model.set(i, at, 'leased', i.error);
          const r = model.request(i.requestId);
          if (r.status === 'received') r.status = 'processing';
        }
        assert.equal(res.body.attempt, Math.max(...batch.items.map((i) => i.attempts)));
        model.batches.push(batch);
        break;
      }
      case 'results': {
        if (model.batches.length === 0) break;
        const b = model.batches[op.pick % model.batches.length];
        const stillOpen = b.items.filter((i) => i.status === 'leased');
        let lines: string[] = [];
        if (b.status === 'leased') {
          let line = 0;
          const outcome = new Map<ModelItem, () => void>();
          for (const [k, i] of b.items.entries()) {
            const fate = op.fates[k % op.fates.length];
            if (fate === 'missing') continue;
            line++;
            const n = line;
            if (fate === 'complete') {
              lines.push(JSON.stringify({ record_id: i.recordId, type: 'annotation', content: { batch: b.id } }));
              outcome.set(i, () => model.set(i, at, 'completed', null));
            } else if (fate === 'retryable') {
              lines.push(JSON.stringify({ record_id: i.recordId, error: { message: 'timed out', retryable: true } }));
              outcome.set(i, () => model.retryOrFail(i, at, 'robot_error', 'timed out', true));
            } else if (fate === 'fatal') {
              lines.push(JSON.stringify({ record_id: i.recordId, error: { message: 'unreadable' } }));
              outcome.set(i, () => model.set(i, at, 'failed', { code: 'robot_error', message: 'unreadable' }));
            } else {
              lines.push(JSON.stringify({ record_id: i.recordId, type: 'nope', content: {} }));
              outcome.set(i, () => model.set(i, at, 'failed', { code: 'rejected', message: `line ${n}: enhancement type "nope" is not one this robot produces (it produces annotation)` }));
            }
          }
          const put = await fetch(b.resultsUrl, { method: 'PUT', body: lines.join('\n') + '\n' });
          assert.equal(put.status, 200);
          const res = await handIn(b, {});
          await h.refinery.background.drain();
          if (stillOpen.length === 0) {
            const cancelled = b.items.some((i) => i.status === 'cancelled');
            assert.equal(res.status, 409, JSON.stringify(res.body));
            assert.equal(res.body.error.code, cancelled ? 'request_cancelled' : 'request_expired');
            break;
          }
          assert.equal(res.status, 202, JSON.stringify(res.body));
          b.status = 'completed';
          for (const i of stillOpen) {
            const settle = outcome.get(i);
            if (settle) settle();
            else model.retryOrFail(i, at, 'missing', 'the robot never answered this record', true);
          }
        } else {
          lines = [];
          const res = await handIn(b, {});
          if (b.status === 'completed') assert.equal(res.status, 202, `results posted again with the lease's token: ${JSON.stringify(res.body)}`);
          else {
            assert.equal(res.status, 409, JSON.stringify(res.body));
            assert.equal(res.body.error.code, b.status === 'expired' ? 'lease_expired' : 'results_already_posted');
          }
        }
        break;
      }
      case 'batchError': {
        if (model.batches.length === 0) break;
        const b = model.batches[op.pick % model.batches.length];
        const res = await handIn(b, { error: { message: 'overloaded', retryable: op.retryable } });
        if (b.status === 'leased' || b.status === 'failed') {
          assert.equal(res.status, 202, JSON.stringify(res.body));
          if (b.status === 'leased') {
            b.status = 'failed';
            for (const i of b.items.filter((i) => i.status === 'leased')) model.retryOrFail(i, at, 'robot_error', 'overloaded', op.retryable);
          }
        } else {
          assert.equal(res.status, 409, JSON.stringify(res.body));
          assert.equal(res.body.error.code, b.status === 'expired' ? 'lease_expired' : 'results_already_posted');
        }
        break;
      }
      case 'advance': {
        advance(h, step);
        model.moves++;
        const t = now();
        await h.refinery.maintenance.runOnce();
        await h.refinery.background.drain();
        // The sweeper: lapsed leases first, then deadlines.
        for (const b of model.batches.filter((b) => b.status === 'leased' && b.leaseExpiresAt <= t)) {
          b.status = 'expired';
          for (const i of b.items.filter((i) => i.status === 'leased')) model.retryOrFail(i, t, 'lease_expired', 'the lease expired before results arrived', true);
        }
        model.finish();
        for (const r of model.requests.filter((r) => openRequest(r) && r.expiresAt !== null && r.expiresAt <= t)) {
          for (const i of [...r.items.values()].filter((i) => open(i.status))) {
            model.set(i, t, 'expired', { code: 'request_expired', message: `the request's deadline (${iso(r.expiresAt!)}) passed before this item finished` });
          }
          r.status = 'expired';
        }
        break;
      }
      case 'cancel': {
        if (model.requests.length === 0) break;
        const r = model.requests[op.pick % model.requests.length];
        const res = await h.api('POST', `/v1/requests/${r.id}/cancel`);
        if (openRequest(r) || r.status === 'cancelled') {
          assert.equal(res.status, 200, JSON.stringify(res.body));
          if (openRequest(r)) {
            for (const i of [...r.items.values()].filter((i) => open(i.status))) model.set(i, at, 'cancelled', { code: 'request_cancelled', message: 'the request was cancelled before this item finished' });
            r.status = 'cancelled';
          }
        } else {
          assert.equal(res.status, 409, JSON.stringify(res.body));
          assert.equal(res.body.error.code, 'already_finished');
        }
        break;
      }
    }
    model.finish();
    await check(h, model, trace);
  }
  await finalOutputs(h, model, trace);
  if (process.env.ITEM_MODEL_VERBOSE) {
    const seen = model.requests.flatMap((r) => [...r.items.values()].map((i) => `${i.status}:${i.error?.code ?? ''}:${i.attempts}`));
    console.log(`# ${ops.length} steps; requests ${model.requests.map((r) => r.status).join(' ')}; items ${[...new Set(seen)].sort().join(' ')}`);
  }
}

/** Every request and item as the API shows them, against the model. */
async function check(h: Harness, model: Model, trace: string[]): Promise<void> {
  const after = `after:\n  ${trace.join('\n  ')}`;
  for (const r of model.requests) {
    const got = await h.api('GET', `/v1/requests/${r.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.status, r.status, `request ${r.id} status, ${after}`);
    assert.deepEqual(got.body.counts, model.counts(r), `request ${r.id} counts, ${after}`);
    const listed = await h.api('GET', `/v1/requests/${r.id}/items?limit=100`);
    assert.equal(listed.status, 200);
    const shown = new Map<string, { status: string; attempts: number; batch_id: string | null; error: unknown; updated_at: string }>(listed.body.data.map((i: { record_id: string }) => [i.record_id, i]));
    assert.equal(shown.size, r.items.size, `request ${r.id} item count, ${after}`);
    for (const i of r.items.values()) {
      const s = shown.get(i.recordId);
      assert.ok(s, `item ${i.recordId} is listed`);
      assert.deepEqual(
        { status: s.status, attempts: s.attempts, batch_id: s.batch_id, error: s.error, updated_at: new Date(s.updated_at).getTime() },
        { status: i.status, attempts: i.attempts, batch_id: i.batchId, error: i.error, updated_at: i.updatedAt },
        `item ${i.recordId} of request ${r.id}, ${after}`,
      );
    }
    // Each status filter lists exactly the items in that status.
    for (const status of new Set([...r.items.values()].map((i) => i.status).concat(['pending', 'completed']))) {
      const filtered = await h.api('GET', `/v1/requests/${r.id}/items?status=${status}&limit=100`);
      assert.equal(filtered.status, 200);
      assert.deepEqual(
        filtered.body.data.map((i: { record_id: string }) => i.record_id).sort(),
        [...r.items.values()].filter((i) => i.status === status).map((i) => i.recordId).sort(),
        `request ${r.id} items ?status=${status}, ${after}`,
      );
    }
  }
}

/** Each finished request's manifest and events, once at the end of a run: one line per item as the model has it, one `request.finished`, last, with the final counts. */
async function finalOutputs(h: Harness, model: Model, trace: string[]): Promise<void> {
  const after = `after:\n  ${trace.join('\n  ')}`;
  await h.refinery.background.drain();
  for (const r of model.requests.filter((r) => !openRequest(r))) {
    const got = (await h.api('GET', `/v1/requests/${r.id}`)).body;
    assert.ok(got.manifest_url, `request ${r.id} has its manifest, ${after}`);
    const lines = (await (await fetch(got.manifest_url)).text()).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(
      new Map(lines.map((l) => [l.record_id, { status: l.status, error: l.error ?? null, enhancements: l.enhancement_ids.length }])),
      new Map([...r.items.values()].map((i) => [i.recordId, { status: i.status, error: i.error, enhancements: i.status === 'completed' ? 1 : 0 }])),
      `request ${r.id} manifest, ${after}`,
    );
    const stream = await fetch(`${h.url}/v1/requests/${r.id}/events`, { headers: { authorization: `Bearer ${h.adminKey}` } });
    assert.equal(stream.status, 200);
    const events = (await stream.text())
      .split('\n\n')
      .filter((block) => block.includes('event: '))
      .map((block) => ({ type: /^event: (.*)$/m.exec(block)![1], data: JSON.parse(/^data: (.*)$/m.exec(block)![1]) }));
    const finished = events.filter((e) => e.type === 'request.finished');
    assert.equal(finished.length, 1, `request ${r.id}: one request.finished, ${after}`);
    assert.equal(events.at(-1)!.type, 'request.finished', `request ${r.id}: request.finished comes last`);
    assert.equal(finished[0].data.status, r.status);
    assert.deepEqual(finished[0].data.counts, model.counts(r), `request ${r.id} finished counts, ${after}`);
  }
}

describeEachBackend(
  'item model (property)',
  (h) => {
    it('random sequences of creates, leases, results, errors, lapses, cancels and deadlines: every item and count as the model says', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(opArb, { minLength: 4, maxLength: 24 }), (maxAttempts, ops) => replay(h(), maxAttempts, ops)),
        { seed, numRuns: runs ?? defaultRuns[h().backend], endOnFailure: process.env.ITEM_MODEL_SHRINK !== '1' },
      );
    });
  },
  { manualClock: true },
);
