import { itemStatuses, priorities, type ItemStatus, type Priority, type RecordFilter, type RequestStatus } from '@refinery/protocol';

export interface RequestRow {
  id: string;
  robot_id: string;
  requested_by: string;
  priority: number;
  status: RequestStatus;
  total: number;
  counts: Record<ItemStatus, number>;
  expires_at: Date | null;
  callback_url: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  manifest_key: string | null;
  body_hash: string | null;
  retry_of: string | null;
  /** Where a DESTINY enhancement request came from (its `source`). */
  source: string | null;
  /** A request by query: the query string (if it came as one), its RecordFilter, and the records it matched. */
  query: string | null;
  filter: RecordFilter | null;
  matched: number | null;
}

/** The RequestRow columns of the requests row aliased `q`. */
export const requestColumns = `q.id, q.robot_id, q.requested_by, q.priority, q.status, q.total,
  jsonb_build_object(${itemStatuses.map((s) => `'${s}', q.n_${s}`).join(', ')}) as counts,
  q.expires_at, q.callback_url, q.created_at, q.started_at, q.finished_at, q.manifest_key, q.body_hash, q.retry_of, q.source,
  q.query, q.query_filter as filter, q.matched`;

export const priorityOf = (rank: number): Priority => priorities[rank];
