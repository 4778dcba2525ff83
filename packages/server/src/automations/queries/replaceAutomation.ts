import type { Queryable } from '../../db/index.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';
import { automationValues, type NewAutomation } from './insertAutomation.ts';

/** Puts another automation in the place of `id` (DESTINY's PUT); what it had gathered is dropped. */
export async function replaceAutomation(db: Queryable, p: NewAutomation): Promise<AutomationRow | null> {
  const { rows } = await db.query<AutomationRow>(
    `
with a as (
  update automations set robot_id = $2::uuid, records_type = $4::text, enhancements_type = $5::text, enhancements_robot_id = $6::uuid, query = $7::text,
    filter = $8::jsonb, active = $9::boolean, updated_at = $10::timestamptz, destiny_query = $11::jsonb, last_error = null, last_error_at = null
  where id = $1::uuid and created_by = $3::uuid
  returning *
),
dropped as (delete from automation_matches m using a where m.automation_id = a.id)
select ${automationColumns} from a
`,
    automationValues(p),
  );
  return rows[0] ?? null;
}
