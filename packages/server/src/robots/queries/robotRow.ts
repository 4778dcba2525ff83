import type { Delivery, Produces } from '@refinery/protocol';

export type RobotProtocol = 'refinery' | 'destiny';

export interface RobotRow {
  id: string;
  name: string;
  owner: string | null;
  description: string | null;
  accepts: string[];
  produces: Produces[];
  needs: string[];
  delivery: Delivery;
  max_batch_size: number;
  lease_ms: number;
  max_attempts: number;
  active: boolean;
  /** The protocol it speaks: its files' formats and how its batches are pushed (docs/destiny.md). */
  protocol: RobotProtocol;
  created_at: Date;
  updated_at: Date;
  secrets: Array<{ created_at: string; expires_at: string | null }>;
}

/** SQL: the `robot_secrets s` row is live at `now` (the current secret, or the previous one in its grace period). */
export const secretIsLive = (now: string) => `(s.expires_at is null or s.expires_at > ${now}::timestamptz)`;

/** The robot's columns plus its live secrets' dates, for `select ${robotColumns} from robots r`. */
export const robotColumns = `r.id, r.name, r.owner, r.description, r.accepts, r.produces, r.needs, r.delivery,
  r.max_batch_size, r.lease_ms, r.max_attempts, r.active, r.protocol, r.created_at, r.updated_at,
  (select coalesce(jsonb_agg(jsonb_build_object('created_at', s.created_at, 'expires_at', s.expires_at) order by s.created_at), '[]')
   from robot_secrets s where s.robot_id = r.id and ${secretIsLive('$now')}) as secrets`;
