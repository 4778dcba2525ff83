/**
 * Refinery's robot endpoints, just enough to drive the SDK's robot side over real HTTP:
 * lease (signed), the items and results blobs, renew, results. Batches are queued by the test.
 */
import { randomUUID } from 'node:crypto';
import type { Batch, ResultLine, ResultsIn } from '@refinery/protocol';
import type { BatchRecord } from '../src/index.ts';
import { errorReply, startServer, verifyRobotSignature, type Received, type Reply, type TestServer } from './http-server.ts';

export const robotId = '0190a000-0000-7000-8000-000000000001';
export const secret = 'test-secret-of-the-robot';

export interface LeasedBatch {
  batch: Batch;
  /** Its items file answers 500. */
  brokenItems: boolean;
  records: BatchRecord[];
  results?: ResultLine[];
  posted?: ResultsIn;
  renewals: number;
}

export interface RobotApi extends TestServer {
  /** Queues a batch of these records for the next lease. */
  queue(records: BatchRecord[], options?: { leaseMs?: number; brokenItems?: boolean }): void;
  leased: LeasedBatch[];
  /** Resolves once `count` batches have had results (or an error) posted. */
  posted(count: number): Promise<void>;
  /** Answers renewals instead of the default 200. */
  onRenew?: (leased: LeasedBatch) => Reply | undefined;
  /** Answers lease calls instead of the default (handing out the queue). */
  onLease?: (req: Received) => Reply | undefined;
  /** Answers results posts instead of the default (202, once). */
  onResults?: (leased: LeasedBatch) => Reply | undefined;
}

export function records(count: number, prefix = 'r'): BatchRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: 'reference',
    identifiers: [{ type: 'doi', value: `10.1000/${prefix}${i}` }],
    content: { title: `Title ${i} — ünïcödé` },
    enhancements: [],
  }));
}

export async function startRobotApi(): Promise<RobotApi> {
  const pending: Array<{ records: BatchRecord[]; leaseMs: number; brokenItems: boolean }> = [];
  const leased: LeasedBatch[] = [];
  const byId = (id: string) => leased.find((l) => l.batch.id === id);

  const api: RobotApi = {
    ...(await startServer(async (req) => {
      const path = req.url.pathname.split('/');
      if (path[1] === 'blobs') return blob(req, path[2]!, path[3]!);
      const [, v1, resource, id, action] = path;
      if (v1 !== 'v1' || resource !== 'batches') return errorReply(404, 'not_found', 'no such route');
      try {
        verifyRobotSignature(req, { [robotId]: secret });
      } catch (err) {
        return errorReply(401, 'unauthorized', (err as Error).message);
      }
      if (id === 'lease') return api.onLease?.(req) ?? lease(req);
      const found = byId(id!);
      if (!found) return errorReply(404, 'not_found', 'no such batch');
      if (action === 'renew') {
        found.renewals++;
        return api.onRenew?.(found) ?? { status: 200, json: { id: found.batch.id, lease_expires_at: new Date(Date.now() + 60_000).toISOString() } };
      }
      if (action === 'results') {
        const reply = api.onResults?.(found);
        if (reply) return reply;
        if (found.posted) return errorReply(409, 'lease_lost', 'results already posted');
        found.posted = JSON.parse(req.body.toString()) as ResultsIn;
        return { status: 202, json: { id: found.batch.id, status: 'importing' } };
      }
      return errorReply(404, 'not_found', 'no such route');
    })),
    queue(batchRecords, options = {}) {
      pending.push({ records: batchRecords, leaseMs: options.leaseMs ?? 60_000, brokenItems: options.brokenItems ?? false });
    },
    leased,
    async posted(count) {
      while (leased.filter((l) => l.posted).length < count) await new Promise((r) => setTimeout(r, 10));
    },
  };

  async function lease(req: Received): Promise<Reply> {
    const next = pending.shift();
    if (!next) {
      await new Promise((r) => setTimeout(r, 20));
      return { status: 204 };
    }
    const limit = Number(req.url.searchParams.get('limit') ?? Infinity);
    const id = randomUUID();
    const batch: Batch = {
      id,
      status: 'leased',
      lease_token: `token-${id}`,
      lease_expires_at: new Date(Date.now() + next.leaseMs).toISOString(),
      attempt: 1,
      item_count: Math.min(limit, next.records.length),
      items_url: `${api.url}/blobs/${id}/items?signature=x`,
      results_url: `${api.url}/blobs/${id}/results?signature=x`,
      report_url: null,
    };
    leased.push({ batch, records: next.records.slice(0, limit), renewals: 0, brokenItems: next.brokenItems });
    return { status: 200, json: batch };
  }

  function blob(req: Received, id: string, kind: string): Reply {
    const found = byId(id);
    if (!found) return errorReply(404, 'not_found', 'no such blob');
    if (req.method === 'GET' && kind === 'items') {
      if (found.brokenItems) return errorReply(500, 'internal', 'disk on fire');
      return { status: 200, body: found.records.map((record) => `${JSON.stringify({ record })}\n`) };
    }
    if (req.method === 'PUT' && kind === 'results') {
      found.results = req.body
        .toString()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as ResultLine);
      return { status: 201 };
    }
    return errorReply(405, 'method_not_allowed', 'no');
  }

  return api;
}
