import type { destiny, ItemStatus } from '@refinery/protocol';
import type { RequestRow } from '../requests/index.ts';

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

/** Each item status as the DESTINY pending enhancement status it is closest to. */
const pendingEnhancementStatusOf: Record<ItemStatus, (typeof destiny.pendingEnhancementStatuses)[number]> = {
  pending: 'pending',
  leased: 'processing',
  importing: 'importing',
  completed: 'completed',
  discarded: 'discarded',
  failed: 'failed',
  denied: 'failed',
  expired: 'expired',
  cancelled: 'failed',
};

/**
 * A request by query as DESTINY's `SearchEnhancementRequestRead`. Refinery searches when the
 * request is made; DESTINY's search phase, the requesting of each match's enhancement, is the
 * writing of the request's items from its backlog (`backlog`: its ids not yet items).
 */
export function searchEnhancementRequestRead(row: RequestRow, backlog: number): destiny.SearchEnhancementRequestRead {
  const counts: Record<string, number> = {};
  for (const [status, n] of Object.entries(row.counts) as Array<[ItemStatus, number]>) {
    const written = status === 'pending' ? n - backlog : n;
    if (written > 0) counts[pendingEnhancementStatusOf[status]] = (counts[pendingEnhancementStatusOf[status]] ?? 0) + written;
  }
  return {
    id: row.id,
    robot_id: row.robot_id,
    source: row.source,
    search_status: backlog > 0 ? 'searching' : 'completed',
    request_status: requestStatus(row),
    n_matched: row.matched,
    n_enhancements_requested: row.total - backlog,
    enhancement_status_counts: counts,
    error: null,
  };
}
