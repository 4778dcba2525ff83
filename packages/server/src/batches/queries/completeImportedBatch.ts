import type { Queryable } from '../../db/index.ts';
import type { ItemMove } from './itemMoves.ts';

/**
 * The last step of an import: the batch, its items settled, moves from `importing` to `completed`,
 * and the items still in it (rows `leased`) complete with it unwritten; its trigger moves their
 * requests' counts (db/functions/04_item_counts.sql). Whether it did, and how many items
 * completed with it, by request. The same statement writes the automations' outbox row for the
 * batch when an active automation waits for enhancements: exactly one, with the move
 * (docs/internals/0024-automations-outbox.md).
 */
export async function completeImportedBatch(db: Queryable, p: { batchId: string; now: Date }): Promise<{ completed: boolean; moves: ItemMove[] }> {
  const { rows } = await db.query<{ completed: boolean; moves: ItemMove[] }>(
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
select exists (select 1 from completed) as completed,
  (select coalesce(jsonb_agg(jsonb_build_object('request_id', m.request_id, 'robot_id', m.robot_id, 'status', 'completed', 'n', m.n)), '[]')
   from (select i.request_id, i.robot_id, count(*)::int as n from batch_items($1::uuid) i
         where i.status = 'leased' and exists (select 1 from completed) group by 1, 2) m) as moves
`,
    [p.batchId, p.now.toISOString()],
  );
  return rows[0];
}
