import type { Queryable } from '../../db/index.ts';
import { batchColumns, type BatchRow } from './batchRow.ts';

/**
 * The robot's batch leased by a call with idempotency key `key`, if its lease is still live: the
 * call is a repeat whose answer was lost (docs/internals/0021-lost-lease-answers.md). A batch that
 * key names whose lease has lapsed (expired, handed in, given back) loses the key in the same
 * statement, so that the repeat leases anew under it. One index lookup.
 */
export async function batchOfLeaseKey(db: Queryable, p: { robotId: string; key: string; now: Date }): Promise<BatchRow | null> {
  const { rows } = await db.query<BatchRow>(
    `
with found as (
  select b.id, b.status = 'leased' and b.lease_expires_at > $3::timestamptz as live
  from batches b where b.robot_id = $1::uuid and b.lease_key = $2::text
),
freed as (
  update batches b set lease_key = null from found f where b.id = f.id and not f.live
)
select ${batchColumns} from batches b join found f on f.id = b.id where f.live
`,
    [p.robotId, p.key, p.now.toISOString()],
    { prepared: true },
  );
  return rows[0] ?? null;
}
