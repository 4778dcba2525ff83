import type { Retry } from '../../work/index.ts';

/** How many items of one request and robot a statement moved to `status` (`pending`: given back for a retry). */
export interface ItemMove {
  request_id: string;
  robot_id: string;
  status: string;
  n: number;
}

/** A move of a statement that retries items: for those given back, when they may be leased again (epoch ms; `bigint` arrives as text). */
export interface RetryMove extends ItemMove {
  at: string | null;
}

/** The requests the moves touched. */
export function requestIdsOf(moves: readonly ItemMove[]): string[] {
  return [...new Set(moves.map((m) => m.request_id))];
}

/** The robots that have items pending again, and when: once per robot and moment. */
export function retriesOf(moves: readonly RetryMove[]): Retry[] {
  const seen = new Map<string, Retry>();
  for (const m of moves) if (m.status === 'pending' && m.at !== null) seen.set(`${m.robot_id} ${m.at}`, { robot_id: m.robot_id, at: Number(m.at) });
  return [...seen.values()];
}
