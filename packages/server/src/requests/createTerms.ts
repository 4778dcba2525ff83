import { parseDuration, priorityRank } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { afterRequestsFinished } from './manifests.ts';
import { getRequest } from './queries/getRequest.ts';
import type { RequestRow } from './queries/requestRow.ts';
import type { RequestBody } from './requestBody.ts';

/**
 * What every create (by ids: createRequest; by query: createRequestByQuery) checks and decides
 * alike before and after its own statement.
 */

/** Longest `ttl` taken: a year. */
const maxTtlMs = 366 * 24 * 3600_000;

/** The request's deadline: `expires_at`, or now + `ttl` (never both: 422 `ttl_and_expires_at`). */
export function deadlineOf(body: Pick<RequestBody, 'ttl' | 'expires_at'>, now: Date): string | null {
  if (body.ttl === undefined) return body.expires_at ?? null;
  if (body.expires_at !== undefined) throw errors.of('ttl_and_expires_at', 'send expires_at or ttl, not both');
  const ttlMs = parseDuration(body.ttl)!;
  if (ttlMs <= 0 || ttlMs > maxTtlMs) throw errors.of('invalid_ttl', 'ttl must be longer than zero and at most 366 days');
  return new Date(now.getTime() + ttlMs).toISOString();
}

/** A create's terms from its body, checked: its priority's rank, its deadline (in the future) and its callback. */
export function termsOf(body: Pick<RequestBody, 'ttl' | 'expires_at' | 'priority' | 'callback_url'>, now: Date) {
  if (body.expires_at !== undefined && new Date(body.expires_at).getTime() <= now.getTime()) {
    throw errors.of('expires_in_past', 'expires_at must be in the future');
  }
  return { priority: priorityRank[body.priority ?? 'normal'], expiresAt: deadlineOf(body, now), callbackUrl: body.callback_url ?? null };
}

/** The robot a create statement found for the body's robot_id: it must exist and take requests. */
export function checkRobotTakesRequests(robot: { name: string; active: boolean } | null, robotId: string): void {
  if (!robot) throw errors.of('unknown_robot', `no robot has id ${robotId}`);
  if (!robot.active) throw errors.of('robot_paused', `robot "${robot.name}" is paused; it takes no new requests`);
}

/** The request an Idempotency-Key made already, when it was made with the same body; 422 otherwise. */
export function sameRequest(existing: RequestRow, bodyHash: string): { request: RequestRow; created: false } {
  if (existing.body_hash !== bodyHash) throw errors.of('idempotency_key_reused', 'this Idempotency-Key was used with a different body');
  return { request: existing, created: false };
}

/** A new request's answer: as inserted, or, when the create finished it at once (nothing to work), read again for its final status. */
export async function createdRequest(
  ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>,
  created: RequestRow,
  finished: ReadonlyArray<{ id: string; status: string }>,
): Promise<{ request: RequestRow; created: true }> {
  if (finished.length === 0) return { request: created, created: true };
  afterRequestsFinished(ctx, finished);
  return { request: (await getRequest(ctx.db, { id: created.id }))!, created: true };
}
