import type { Queryable } from '../../db/index.ts';
import { automationColumns, type AutomationRow } from './automationRow.ts';

export async function getAutomation(db: Queryable, p: { id: string }): Promise<AutomationRow | null> {
  const { rows } = await db.query<AutomationRow>(`select ${automationColumns} from automations a where a.id = $1::uuid`, [p.id]);
  return rows[0] ?? null;
}
