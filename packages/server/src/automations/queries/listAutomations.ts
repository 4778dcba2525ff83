import type { Queryable } from '../../db/index.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

/** Automations in id order after `afterId`: all, or those `createdBy` made; of one robot, or any. */
export async function listAutomations(db: Queryable, p: { createdBy: string | null; robotId: string | null; afterId: string | null; limit: number }): Promise<AutomationRow[]> {
  const { rows } = await db.query<AutomationRow>(
    `
select ${automationColumns}
from automations a
where ($1::uuid is null or a.created_by = $1::uuid)
  and ($2::uuid is null or a.robot_id = $2::uuid)
  and ($3::uuid is null or a.id > $3::uuid)
order by a.id
limit $4::int
`,
    [p.createdBy, p.robotId, p.afterId, p.limit],
  );
  return rows;
}
