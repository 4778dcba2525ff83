import type { BatchStatus } from '@refinery/protocol';

export interface BatchRow {
  id: string;
  robot_id: string;
  status: BatchStatus;
  attempt: number;
  item_count: number;
  lease_token: string;
  lease_expires_at: Date;
  items_key: string;
  results_key: string;
  report_key: string | null;
  error_message: string | null;
  /** When the cleanup deleted its files (docs/retention.md); null while they are kept. */
  files_deleted_at: Date | null;
  /** Set on a batch this process just leased, while tracing: its lease span, handed to the robot (docs/operations.md#traces). */
  traceparent?: string;
}

export const batchColumns = `b.id, b.robot_id, b.status, b.attempt, b.item_count, b.lease_token, b.lease_expires_at, b.items_key, b.results_key, b.report_key, b.error_message, b.files_deleted_at`;
