import type { Queryable } from '../../db/db.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

export async function insertAutomation(db: Queryable, p: Omit<AutomationRow, 'last_error' | 'last_error_at' | 'created_at' | 'updated_at'> & { now: Date }): Promise<AutomationRow> {
  const { rows } = await db.query<AutomationRow>(
    `
with a as (
  insert into automations (id, robot_id, created_by, records_type, enhancements_type, enhancements_robot_id, query, filter, active, created_at, updated_at)
  values ($1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::uuid, $7::text, $8::jsonb, $9::boolean, $10::timestamptz, $10::timestamptz)
  returning *
)
select ${automationColumns} from a
`,
    [p.id, p.robot_id, p.created_by, p.records_type, p.enhancements_type, p.enhancements_robot_id, p.query, p.filter === null ? null : JSON.stringify(p.filter), p.active, p.now.toISOString()],
  );
  return rows[0];
}
