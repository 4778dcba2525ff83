import type { Queryable } from '../../db/index.ts';

/**
 * Refreshes the planner's statistics on `items`, inside the transaction that added many (ANALYZE
 * counts the transaction's own new rows), so they are right when the robots it wakes first lease.
 * With statistics from before a burst the planner believes few items are pending and sorts all of
 * them for every lease instead of walking the pending index for N: fine at 100 items, quadratic at
 * 100,000. Autovacuum would catch up within minutes on PostgreSQL, and never on PGlite.
 */
export async function analyzeItems(db: Queryable): Promise<void> {
  await db.query('analyze items');
}
