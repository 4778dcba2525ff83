import type { Produces } from '@refinery/protocol';
import type { Queryable } from '../../db/index.ts';
import type { RobotProtocol } from '../../robots/index.ts';

export interface ImportContext {
  id: string;
  robot_id: string;
  results_key: string;
  /** Set once the import settled the batch's items (settleImportedItems). */
  report_key: string | null;
  produces: Produces[];
  /** The robot's protocol: the format its results and the report are in. */
  protocol: RobotProtocol;
  robot_updated_at: Date;
  items: Array<{ record_id: string; request_id: string }>;
  /**
   * Its items closed with their request (cancelled, or expired at its deadline) while the robot
   * held them: the import reports what the robot sent for them and imports nothing.
   */
  closed: Array<{ record_id: string; status: 'cancelled' | 'expired'; error_message: string | null }>;
}

/**
 * What validating a batch's results needs: the robot's declared output and the batch's items,
 * importing (their rows still `leased`: they move with the batch) and closed.
 */
export async function getImportContext(db: Queryable, p: { batchId: string }): Promise<ImportContext | null> {
  const { rows } = await db.query<ImportContext>(
    `
select b.id, b.robot_id, b.results_key, b.report_key, r.produces, r.protocol, r.updated_at as robot_updated_at,
  coalesce(i.importing, '[]') as items, coalesce(i.closed, '[]') as closed
from batches b join robots r on r.id = b.robot_id
cross join lateral (
  select jsonb_agg(jsonb_build_object('record_id', i.record_id, 'request_id', i.request_id)) filter (where i.status = 'leased') as importing,
    jsonb_agg(jsonb_build_object('record_id', i.record_id, 'status', i.status, 'error_message', i.error_message)) filter (where i.status <> 'leased') as closed
  from batch_items(b.id) i where i.status in ('leased', 'cancelled', 'expired')
) i
where b.id = $1::uuid and b.status = 'importing'
`,
    [p.batchId],
  );
  return rows[0] ?? null;
}
