import type { destiny } from '@refinery/protocol';
import type { RequestRow } from '../requests/queries/requestRow.ts';

/**
 * DESTINY's `request_status` for a request: DESTINY derives it from its items' statuses (docs/destiny.md).
 * A request completed with an item discarded (an exact duplicate) is `partial_failed` there.
 */
export function requestStatus(row: Pick<RequestRow, 'status' | 'counts'>): destiny.EnhancementRequestStatus {
  switch (row.status) {
    case 'received':
    case 'processing':
      return row.status;
    case 'completed':
      return row.counts.discarded > 0 ? 'partial_failed' : 'completed';
    case 'completed_with_errors':
      return 'partial_failed';
    default:
      return 'failed';
  }
}

/**
 * An `EnhancementRequestRead` as JSON text in pieces, `reference_ids` streamed from `ids` (pages
 * of ids): the ids of a large request are never one string or one array in memory.
 */
export async function* enhancementRequestJson(row: RequestRow, ids: AsyncIterable<string[]>): AsyncIterable<string> {
  const head: Omit<destiny.EnhancementRequestRead, 'reference_ids'> = {
    id: row.id,
    robot_id: row.robot_id,
    source: row.source,
    request_status: requestStatus(row),
    reference_data_url: null,
    result_storage_url: null,
    validation_result_url: null,
    error: null,
  };
  yield JSON.stringify(head).slice(0, -1) + ',"reference_ids":[';
  let first = true;
  for await (const page of ids) {
    if (page.length === 0) continue;
    yield (first ? '"' : ',"') + page.join('","') + '"';
    first = false;
  }
  yield ']}';
}
