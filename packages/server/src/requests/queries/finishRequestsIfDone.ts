import type { Queryable } from '../../db/index.ts';
import { requestIsOpen } from '../open.ts';

/**
 * The fan-in: moves each given request whose items are all final to its final state, exactly once.
 * Item moves update the request row's counts (trigger) under its row lock, so of two transactions
 * finishing a request's last items at the same moment, only the later one sees no open item; the
 * status guard makes a repeat a no-op. The `request.finished` event is written in the same statement.
 */
export async function finishRequestsIfDone(db: Queryable, p: { requestIds: readonly string[]; now: Date }): Promise<Array<{ id: string; status: string }>> {
  if (p.requestIds.length === 0) return [];
  const { rows } = await db.query<{ id: string; status: string }>(
    `
with finished as (
  update requests set
    status = case
      when n_completed + n_discarded = total then 'completed'
      when n_completed + n_discarded = 0 then 'failed'
      else 'completed_with_errors'
    end,
    finished_at = $2::timestamptz
  where id = any($1::uuid[])
    and ${requestIsOpen()}
    and n_pending + n_leased + n_importing = 0
  returning requests as r
),
event as (
  insert into events (request_id, type, payload, created_at)
  select (r).id, 'request.finished', request_progress_payload(r), $2::timestamptz from finished
)
select (r).id::text as id, (r).status as status from finished
`,
    [[...new Set(p.requestIds)], p.now.toISOString()],
  );
  return rows;
}
