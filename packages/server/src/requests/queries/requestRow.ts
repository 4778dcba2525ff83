import { itemStatuses, priorities, type ItemStatus, type Priority, type RequestStatus } from '@refinery/protocol';

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
}

/**
 * The RequestRow columns of the requests row aliased `q`. A statement that has just inserted the
 * request passes its own `total` and `counts`, and whether its items started it (`started`, SQL
 * true when some were created leased): the items trigger has not run when it returns.
 */
export function requestColumnsOf(q: string, counted?: { total: string; counts: string; started: string }): string {
  const status = counted ? `case when ${counted.started} then 'processing' else ${q}.status end` : `${q}.status`;
  const startedAt = counted ? `case when ${counted.started} then ${q}.created_at else ${q}.started_at end` : `${q}.started_at`;
  return `${q}.id, ${q}.robot_id, ${q}.requested_by, ${q}.priority, ${status} as status, ${counted?.total ?? `${q}.total`} as total,
  ${counted?.counts ?? `jsonb_build_object(${itemStatuses.map((s) => `'${s}', ${q}.n_${s}`).join(', ')})`} as counts,
  ${q}.expires_at, ${q}.callback_url, ${q}.created_at, ${startedAt} as started_at, ${q}.finished_at, ${q}.manifest_key, ${q}.body_hash`;
}

export const requestColumns = requestColumnsOf('q');

export const priorityOf = (rank: number): Priority => priorities[rank];
