import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../../requests/index.ts';

export interface QueueGauges {
  /** Items of open requests by status, all robots. */
  items: { pending: number; leased: number; importing: number };
  /** Pending items by robot and priority (0–3); the backlog of a large request counts. */
  pending: Array<{ robot: string; priority: number; n: number }>;
  /** Per robot, when its longest-waiting pending item became available (null: none pending). */
  oldest: Array<{ robot: string; since: Date | null }>;
  /** Webhook deliveries not delivered yet. */
  webhooksPending: number;
}

/**
 * Every gauge /metrics reads from the database, in one statement: the open requests' counts
 * (kept by the items' triggers), one look per robot at the first entry of `items_pending_since`
 * and at the first item after each open request's lease cursor,
 * and the undelivered webhooks' partial index. No scan of items.
 */
export async function readQueueGauges(db: Queryable): Promise<QueueGauges> {
  const { rows } = await db.query<{ items: QueueGauges['items']; pending: QueueGauges['pending'] | null; oldest: Array<{ robot: string; since: string | null }> | null; webhooks_pending: number }>(
    `with open as (
       select robot_id, priority, n_pending, n_leased, n_importing from requests where ${requestIsOpen()}
     )
     select
       (select jsonb_build_object('pending', coalesce(sum(n_pending), 0), 'leased', coalesce(sum(n_leased), 0), 'importing', coalesce(sum(n_importing), 0)) from open) as items,
       (select jsonb_agg(jsonb_build_object('robot', robot_id, 'priority', priority, 'n', n))
          from (select robot_id, priority, sum(n_pending)::int as n from open group by robot_id, priority) p) as pending,
       (select jsonb_agg(jsonb_build_object('robot', r.id, 'since', least(
            (select min(i.available_at) from items i where i.robot_id = r.id and i.queued),
            -- Items not leased yet: the first \`new\` one after each open request's lease cursor (docs/internals/0034-lease-by-span.md).
            (select min(n.available_at) from requests q
              cross join lateral (select n.available_at from items n where n.request_id = q.id and n.id > q.lease_cursor and n.status = 'new' order by n.id limit 1) n
              where q.robot_id = r.id and q.status in ('received', 'processing') and q.n_pending > 0))))
          from robots r) as oldest,
       (select count(*)::int from webhook_deliveries where delivered_at is null) as webhooks_pending`,
  );
  const row = rows[0];
  return {
    items: { pending: Number(row.items.pending), leased: Number(row.items.leased), importing: Number(row.items.importing) },
    pending: row.pending ?? [],
    oldest: (row.oldest ?? []).map((o) => ({ robot: o.robot, since: o.since === null ? null : new Date(o.since) })),
    webhooksPending: row.webhooks_pending,
  };
}
