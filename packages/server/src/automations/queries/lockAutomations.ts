import type { Queryable } from '../../db/index.ts';

/** Held by a transaction that checks automations for a cycle and then adds or resumes one: two at once could close a cycle neither sees. */
export async function lockAutomations(db: Queryable): Promise<void> {
  await db.query(`lock table automations in share row exclusive mode`);
}
