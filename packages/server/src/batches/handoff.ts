import { setImmediate as afterThisTurn } from 'node:timers/promises';
import type { Context } from '../context.ts';
import { newBatchKeys } from './leaseBatch.ts';
import type { LeaseTerms } from './leaseTerms.ts';
import type { LeasedBatch } from './queries/leaseItems.ts';
import { releaseBatch } from './queries/releaseBatch.ts';

/** The lease a statement that creates items makes for a waiting long poll: the batch's keys and the poll's terms. */
export type HandoffLease = ReturnType<typeof newBatchKeys> & LeaseTerms;

export interface Handoff {
  lease: HandoffLease;
  /**
   * Gives the poll the batch the statement leased for it, or nothing (it then looks for work
   * itself). A batch the poll can no longer take (its robot went away meanwhile) is released:
   * its items go back to pending and the robot's other polls are woken. Never throws.
   * Resolves once the poll that took a batch has had its turn to answer: the robot waits on that
   * answer, the requester only on a receipt, so the create answers after it.
   */
  finish(batch: LeasedBatch | null): Promise<void>;
}

/**
 * A long poll of `robotId` waiting in this process, claimed for the items of a request about to be
 * created (docs/dispatch.md), or null when none waits here. The claim must be finished, once,
 * whatever the create's outcome.
 */
export function claimWaitingPoll(ctx: Pick<Context, 'clock' | 'db' | 'log' | 'work'>, robotId: string): Handoff | null {
  const poll = ctx.work.claimWaiter(robotId);
  if (!poll) return null;
  return {
    lease: { ...newBatchKeys(), ...poll.terms },
    async finish(batch) {
      if (poll.hand(batch)) {
        if (batch) await afterThisTurn();
        return;
      }
      if (!batch) return;
      try {
        await releaseBatch(ctx.db, { id: batch.id, reason: 'the long poll it was leased to had ended', now: ctx.clock.now() });
        ctx.work.wakeHere(robotId);
      } catch (err) {
        // The request is committed and is answered; the lease lapses instead (the lease-expiry service).
        ctx.log.warn({ err, batch_id: batch.id }, 'could not give back a batch its long poll did not take');
      }
    },
  };
}
