import type { Queryable } from '../../db/db.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

type NewAutomation = Omit<AutomationRow, 'last_error' | 'last_error_at' | 'created_at' | 'updated_at'> & { now: Date };

const values = (p: NewAutomation) => [
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
    values(p),
  );
  return rows[0];
}

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
    values(p),
  );
  return rows[0] ?? null;
}
