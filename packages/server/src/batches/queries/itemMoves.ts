/** How many items of one request and robot a statement moved to `status` (`pending`: given back for a retry). */
export interface ItemMove {
  request_id: string;
  robot_id: string;
  status: string;
  n: number;
}

/** The requests the moves touched. */
export function requestIdsOf(moves: readonly ItemMove[]): string[] {
  return [...new Set(moves.map((m) => m.request_id))];
}

/** The robots that have items pending again. */
export function retriedRobotIdsOf(moves: readonly ItemMove[]): string[] {
  return [...new Set(moves.filter((m) => m.status === 'pending').map((m) => m.robot_id))];
}
