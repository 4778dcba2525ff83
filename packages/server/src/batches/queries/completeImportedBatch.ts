import type { Queryable } from '../../db/index.ts';

/**
 * The last step of an import: the batch, its items settled, moves from `importing` to `completed`;
 * whether it did. The same statement writes the automations' outbox row for the batch when an
 * active automation waits for enhancements: exactly one, with the move
 * (docs/internals/0024-automations-outbox.md).
 */
export async function completeImportedBatch(db: Queryable, p: { batchId: string; now: Date }): Promise<boolean> {
  const { rows } = await db.query<{ completed: boolean }>(
    `
with completed as (
  update batches set status = 'completed', import_expires_at = null, updated_at = $2::timestamptz
  where id = $1::uuid and status = 'importing'
  returning id, robot_id
),
outbox as (
  insert into automation_outbox (kind, source_id, robot_id, created_at)
  select 'batch', c.id, c.robot_id, $2::timestamptz from completed c
  where exists (select 1 from automations a where a.active and a.enhancements_type is not null and a.robot_id <> c.robot_id)
)
select exists (select 1 from completed) as completed
`,
    [p.batchId, p.now.toISOString()],
  );
  return rows[0].completed;
}
