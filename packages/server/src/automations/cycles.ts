import type { GraphAutomation } from './queries/listAutomationGraph.ts';

/**
 * A chain of automations that comes back to `start`, or null. Automation X leads to Y when Y
 * fires on enhancements of a type X's robot produces (from X's robot, or from any robot) and Y's
 * robot is another (a robot's own output never triggers it).
 */
export function findCycle(start: GraphAutomation, others: GraphAutomation[]): GraphAutomation[] | null {
  const all = [start, ...others.filter((o) => o.id !== start.id)];
  const leadsTo = (x: GraphAutomation) =>
    all.filter((y) => y.enhancements_type !== null && y.robot_id !== x.robot_id && x.produces.includes(y.enhancements_type) && (y.enhancements_robot_id === null || y.enhancements_robot_id === x.robot_id));
  const seen = new Set<string>();
  const path: GraphAutomation[] = [];
  const walk = (x: GraphAutomation): GraphAutomation[] | null => {
    path.push(x);
    for (const y of leadsTo(x)) {
      if (y.id === start.id) return [...path, start];
      if (seen.has(y.id)) continue;
      seen.add(y.id);
      const found = walk(y);
      if (found) return found;
    }
    path.pop();
    return null;
  };
  return walk(start);
}

/** "automation 0190… (robot a) → automation 0191… (robot b) → automation 0190… (robot a)". */
export function describeCycle(cycle: GraphAutomation[]): string {
  return cycle.map((a) => `automation ${a.id} (robot ${a.robot_name ?? a.robot_id})`).join(' → ');
}
