import type { Queryable } from '../../db/index.ts';
import { robotColumns, type RobotRow } from './robotRow.ts';

export async function getRobot(db: Queryable, p: { id: string; now: Date }): Promise<RobotRow | null> {
  const { rows } = await db.query<RobotRow>(`select ${robotColumns.replaceAll('$now', '$2')} from robots r where r.id = $1::uuid`, [p.id, p.now.toISOString()]);
  return rows[0] ?? null;
}
