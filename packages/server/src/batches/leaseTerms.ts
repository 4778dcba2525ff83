/** What a long poll asks for, as it waits (WorkSignals' `Terms`): the batch it takes. */
export interface LeaseTerms {
  limit: number;
  leaseMs: number;
  /** The robot's `needs`, for its items file. */
  needs: string[];
  /** The poll's idempotency key, recorded on the batch (batchOfLeaseKey). */
  leaseKey?: string | null;
}
