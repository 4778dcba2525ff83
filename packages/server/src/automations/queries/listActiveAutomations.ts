import type { Queryable } from '../../db/index.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

export async function listActiveAutomations(db: Queryable): Promise<AutomationRow[]> {
  const { rows } = await db.query<AutomationRow>(`select ${automationColumns} from automations a where a.active order by a.id`);
  return rows;
}
