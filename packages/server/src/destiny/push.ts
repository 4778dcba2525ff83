import { destiny } from '@refinery/protocol';
import { batchOut, type BatchRow } from '../batches/index.ts';
import type { Context } from '../context.ts';
import { strictAjv } from '../http/index.ts';

/** Longest RobotResult read from a pushed robot's 200. */
const maxResultBytes = 64 * 1024;
const isRobotResult = strictAjv().compile(destiny.RobotResult);

/**
 * The push era of DESTINY (docs/destiny.md): a batch POSTed to the robot's `<base_url>/batch/` as a
 * `RobotRequest`, signed as DESTINY signed it (the robot's own id as X-Client-Id, its current
 * secret as the key), so that destiny_sdk's `HMACAuth` verifies it.
 */
export async function destinyDelivery(ctx: Context, batch: BatchRow, robotId: string, baseUrl: string, secret: string): Promise<{ url: string; body: string; headers: Record<string, string> }> {
  const out = await batchOut(ctx, batch);
  const request: destiny.RobotRequest = { id: out.id, reference_storage_url: out.items_url, result_storage_url: out.results_url, extra_fields: null };
  const body = JSON.stringify(request);
  return {
    url: `${baseUrl.replace(/\/+$/, '')}/batch/`,
    body,
    headers: { 'content-type': 'application/json', ...destiny.signDestinyRequest({ clientId: robotId, secret, body, timestamp: ctx.clock.now().getTime() / 1000 }) },
  };
}

/**
 * A pushed robot's 200: its `RobotResult` for the batch, the result file uploaded already. What it
 * says: the robot's error, or none (the results are to be imported). Null when the answer is not a
 * RobotResult for this batch.
 */
export async function robotResultOf(response: Response, batchId: string): Promise<{ error: string | null } | null> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxResultBytes) return null;
  let value: unknown;
  try {
    const text = await response.text();
    if (text.length > maxResultBytes) return null;
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRobotResult(value)) return null;
  const result = value as destiny.RobotResult;
  if (result.request_id.toLowerCase() !== batchId) return null;
  return { error: result.error?.message ?? null };
}
