/**
 * The three state machines of Refinery, each declared once. Every database CHECK,
 * every schema enum and every guarded transition derives from these lists.
 */

// ── Item: one record inside one request ──────────────────────────────────────
export const itemStatuses = [
  /** Created waiting for a robot; put back here by the lease sweeper or a retryable robot error. */
  'pending',
  /** Handed to a robot inside a batch (lease). Moved here by `POST /v1/batches/lease`. */
  'leased',
  /** The robot posted results; Refinery is validating and importing them. */
  'importing',
  /** Final: an enhancement was imported. */
  'completed',
  /** Final: the robot's enhancement was an exact duplicate of one already stored. */
  'discarded',
  /** Final: the robot failed it, its answer was rejected, or attempts ran out. */
  'failed',
  /** Final, at creation: the record is missing, of a type the robot does not accept, or hidden. */
  'denied',
  /** Final: the record aged out, or the request's deadline passed. */
  'expired',
  /** Final: the request was cancelled. */
  'cancelled',
] as const;
export type ItemStatus = (typeof itemStatuses)[number];

export const itemFinalStatuses = ['completed', 'discarded', 'failed', 'denied', 'expired', 'cancelled'] as const satisfies readonly ItemStatus[];
export const itemOpenStatuses = ['pending', 'leased', 'importing'] as const satisfies readonly ItemStatus[];
/**
 * The states an item may be created in. `leased`: pending and leased at the same instant, when the
 * request is created while its robot waits in a long poll in the same process (the lease is made in
 * the create's own statement: docs/dispatch.md).
 */
export const itemInitialStatuses = ['pending', 'leased', 'denied', 'expired'] as const satisfies readonly ItemStatus[];

export const itemTransitions: Readonly<Record<ItemStatus, readonly ItemStatus[]>> = {
  pending: ['leased', 'cancelled', 'expired'],
  leased: ['importing', 'pending', 'failed', 'cancelled', 'expired'],
  importing: ['completed', 'discarded', 'failed', 'pending', 'cancelled', 'expired'],
  completed: [],
  discarded: [],
  failed: [],
  denied: [],
  expired: [],
  cancelled: [],
};

// ── Batch: the items one robot holds under one lease ─────────────────────────
export const batchStatuses = [
  /** Handed to the robot; its lease runs until `lease_expires_at`. */
  'leased',
  /** The robot posted results in time; the import is running (or will be resumed after a crash). */
  'importing',
  /** Final: the results were imported and the validation report written. */
  'completed',
  /** Final: the robot reported a batch-wide error. */
  'failed',
  /** Final: the lease ran out before results arrived; the sweeper released the items. */
  'expired',
] as const;
export type BatchStatus = (typeof batchStatuses)[number];

export const batchTransitions: Readonly<Record<BatchStatus, readonly BatchStatus[]>> = {
  leased: ['importing', 'failed', 'expired'],
  importing: ['completed'],
  completed: [],
  failed: [],
  expired: [],
};

// ── Request: what a requester asked one robot to do ──────────────────────────
export const requestStatuses = [
  /** Accepted (202); no item leased yet. */
  'received',
  /** At least one item has been leased. */
  'processing',
  /** Final: every item completed or discarded. */
  'completed',
  /** Final: some items succeeded, some failed, were denied or expired. */
  'completed_with_errors',
  /** Final: no item succeeded. */
  'failed',
  /** Final: cancelled by its owner or an admin. */
  'cancelled',
  /** Final: its deadline passed first. */
  'expired',
] as const;
export type RequestStatus = (typeof requestStatuses)[number];
/** Not final yet: its items may still move. */
export const requestOpenStatuses = ['received', 'processing'] as const satisfies readonly RequestStatus[];
export const requestFinalStatuses = ['completed', 'completed_with_errors', 'failed', 'cancelled', 'expired'] as const satisfies readonly RequestStatus[];

export const requestTransitions: Readonly<Record<RequestStatus, readonly RequestStatus[]>> = {
  received: ['processing', 'completed', 'completed_with_errors', 'failed', 'cancelled', 'expired'],
  processing: ['completed', 'completed_with_errors', 'failed', 'cancelled', 'expired'],
  completed: [],
  completed_with_errors: [],
  failed: [],
  cancelled: [],
  expired: [],
};

export const priorities = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof priorities)[number];
/** Larger is served first. */
export const priorityRank: Readonly<Record<Priority, number>> = { low: 0, normal: 1, high: 2, critical: 3 };

export const visibilities = ['public', 'restricted', 'hidden'] as const;
export type Visibility = (typeof visibilities)[number];

export function canMove<S extends string>(transitions: Readonly<Record<S, readonly S[]>>, from: S, to: S): boolean {
  return transitions[from].includes(to);
}

/** The final state of a request whose items are all final (null while some are open). */
export function requestOutcome(counts: Readonly<Record<ItemStatus, number>>): RequestStatus | null {
  if (itemOpenStatuses.some((s) => counts[s] > 0)) return null;
  const succeeded = counts.completed + counts.discarded;
  const unsuccessful = counts.failed + counts.denied + counts.expired + counts.cancelled;
  if (unsuccessful === 0) return 'completed';
  if (succeeded === 0) return 'failed';
  return 'completed_with_errors';
}
