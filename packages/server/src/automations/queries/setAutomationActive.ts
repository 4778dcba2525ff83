import type { Queryable } from '../../db/index.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

/** Pauses or resumes an automation; a pause drops what it had gathered and not yet asked for. */
export async function setAutomationActive(db: Queryable, p: { id: string; active: boolean; now: Date }): Promise<AutomationRow | null> {
  const { rows } = await db.query<AutomationRow>(
    `
with a as (
  update automations set active = $2::boolean, updated_at = $3::timestamptz where id = $1::uuid returning *
),
dropped as (
  delete from automation_matches m using a where not $2::boolean and m.automation_id = a.id
)
select ${automationColumns} from a
`,
    [p.id, p.active, p.now.toISOString()],
  );
  return rows[0] ?? null;
}
