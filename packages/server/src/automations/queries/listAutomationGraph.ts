import type { Queryable } from '../../db/index.ts';

export interface GraphAutomation {
  id: string;
  robot_id: string;
  robot_name: string | null;
  enhancements_type: string | null;
  enhancements_robot_id: string | null;
  /** The enhancement types its robot produces. */
  produces: string[];
}

/** The active automations and what their robots produce: what a cycle check walks. */
export async function listAutomationGraph(db: Queryable): Promise<GraphAutomation[]> {
  const { rows } = await db.query<GraphAutomation>(`
select a.id, a.robot_id, r.name as robot_name, a.enhancements_type, a.enhancements_robot_id,
  coalesce((select array_agg(p->>'type') from jsonb_array_elements(r.produces) p), '{}') as produces
from automations a
left join robots r on r.id = a.robot_id
where a.active
`);
  return rows;
}
