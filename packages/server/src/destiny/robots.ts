import { randomBytes, randomUUID } from 'node:crypto';
import { destiny, type Delivery, type Produces } from '@refinery/protocol';
import type { RobotRow } from '../robots/index.ts';

/**
 * A DESTINY robot as Refinery holds it (docs/destiny.md): it enhances `reference` records, may
 * return every DESTINY enhancement type (`raw` with the `raw_enhancement_writer` entitlement),
 * and is given every enhancement a DESTINY robot wrote (`full_text` ones with the `full_text`
 * entitlement). `base_url` makes it a push robot.
 */
export function refineryFields(robot: destiny.RobotIn): { accepts: string[]; produces: Produces[]; needs: string[]; delivery: Delivery } {
  const entitled = new Set(robot.entitlements ?? []);
  return {
    accepts: ['reference'],
    produces: destiny.enhancementTypes.filter((t) => t !== 'raw' || entitled.has('raw_enhancement_writer')).map((type) => ({ type })),
    needs: destiny.enhancementTypes.filter((t) => t !== 'full_text' || entitled.has('full_text')),
    delivery: robot.base_url ? { mode: 'push', url: robot.base_url } : { mode: 'pull' },
  };
}

/** Any robot as DESTINY's `Robot`, its entitlements read back from what it produces and needs. */
export function destinyRobot(row: RobotRow): destiny.Robot {
  const entitlements: destiny.Entitlement[] = [];
  if (row.needs.includes('full_text')) entitlements.push('full_text');
  if (row.produces.some((p) => p.type === 'raw')) entitlements.push('raw_enhancement_writer');
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? '',
    owner: row.owner ?? '',
    entitlements,
    base_url: row.delivery.mode === 'push' ? row.delivery.url : null,
  };
}

/**
 * A DESTINY robot's id: a UUIDv4, as DESTINY made them until 2026, and as the toy robot's
 * configuration (`robot_id: UUID4`) and destiny_sdk before 0.9 demand.
 */
export const newDestinyRobotId = (): string => randomUUID();
/** A DESTINY robot's secret: 32 random bytes in hex, as DESTINY's `secrets.token_hex(32)`; the HMAC key is this text. */
export const newDestinySecret = (): string => randomBytes(32).toString('hex');
/** Most references a DESTINY robot is given in one batch (`max_pending_enhancements_batch_size`). */
export const destinyMaxBatchSize = 10_000;
