/**
 * The lease query's rule against starvation (docs/priorities.md): a lease hands out the highest
 * priority first, oldest first within a priority, but reserves a share of its slots for items
 * that have waited longer than `overdueAfterMs`, taken oldest first whatever their priority.
 */
export const leaseFairness = {
  /** How long an item may wait, once available, before it is overdue: 5 minutes. */
  overdueAfterMs: 5 * 60_000,
  /** Share of a lease's slots reserved for overdue items; at least one slot. */
  overdueShare: 0.25,
};

/** Slots of a lease of `limit` items that overdue items may take first. */
export function overdueSlots(limit: number): number {
  return Math.max(1, Math.floor(limit * leaseFairness.overdueShare));
}
