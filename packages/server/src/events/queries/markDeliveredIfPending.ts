import type { Queryable } from '../../db/index.ts';

/** Marks deliveries the receiver acknowledged (2xx), if not marked yet (a sender that took over an expired claim may have). */
export async function markDeliveredIfPending(db: Queryable, p: { eventIds: readonly string[]; now: Date }): Promise<number> {
  if (p.eventIds.length === 0) return 0;
  const { rowCount } = await db.query(
    `
update webhook_deliveries set delivered_at = $2::timestamptz, claimed_until = null, last_error = null
where event_id = any($1::bigint[]) and delivered_at is null
`,
    [p.eventIds, p.now.toISOString()],
  );
  return rowCount;
}
