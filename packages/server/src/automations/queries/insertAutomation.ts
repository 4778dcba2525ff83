import type { Queryable } from '../../db/index.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

export type NewAutomation = Omit<AutomationRow, 'last_error' | 'last_error_at' | 'created_at' | 'updated_at'> & { now: Date };

/** The parameters of insertAutomation and replaceAutomation, in order. */
export const automationValues = (p: NewAutomation) => [
  p.id,
  p.robot_id,
  p.created_by,
  p.records_type,
  p.enhancements_type,
  p.enhancements_robot_id,
  p.query,
  p.filter === null ? null : JSON.stringify(p.filter),
  p.active,
  p.now.toISOString(),
  p.destiny_query === null ? null : JSON.stringify(p.destiny_query),
];

export async function insertAutomation(db: Queryable, p: NewAutomation): Promise<AutomationRow> {
  const { rows } = await db.query<AutomationRow>(
    `
with a as (
  insert into automations (id, robot_id, created_by, records_type, enhancements_type, enhancements_robot_id, query, filter, active, created_at, updated_at, destiny_query)
  values ($1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::uuid, $7::text, $8::jsonb, $9::boolean, $10::timestamptz, $10::timestamptz, $11::jsonb)
  returning *
)
select ${automationColumns} from a
`,
    automationValues(p),
  );
  return rows[0];
}
