import type { RecordFilter } from '@refinery/protocol';

export interface AutomationRow {
  id: string;
  robot_id: string;
  created_by: string;
  records_type: string | null;
  enhancements_type: string | null;
  enhancements_robot_id: string | null;
  query: string | null;
  filter: RecordFilter | null;
  active: boolean;
  last_error: string | null;
  last_error_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** The percolator query it was added with through DESTINY's routes (docs/destiny.md), else null. */
  destiny_query: unknown;
}

/** The AutomationRow columns of the automations row aliased `a`. */
export const automationColumns = `a.id, a.robot_id, a.created_by, a.records_type, a.enhancements_type, a.enhancements_robot_id, a.query, a.filter, a.active,
  a.last_error, a.last_error_at, a.created_at, a.updated_at, a.destiny_query`;
