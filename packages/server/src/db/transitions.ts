import { batchTransitions, itemTransitions, requestTransitions } from '@refinery/protocol';
import type { Queryable } from './db.ts';

function pairs(transitions: Readonly<Record<string, readonly string[]>>): [string[], string[]] {
  const moves = Object.entries(transitions).flatMap(([from, tos]) => tos.map((to) => [from, to] as const));
  return [moves.map((m) => m[0]), moves.map((m) => m[1])];
}

/** Writes the state machines of packages/protocol into the tables the database enforces them from. */
export async function syncTransitions(tx: Queryable): Promise<void> {
  for (const [table, transitions] of [
    ['item_transitions', itemTransitions],
    ['batch_transitions', batchTransitions],
    ['request_transitions', requestTransitions],
  ] as const) {
    const [from, to] = pairs(transitions);
    await tx.query(`delete from ${table}`);
    await tx.query(`insert into ${table} (from_status, to_status) select * from unnest($1::text[], $2::text[])`, [from, to]);
  }
}
