import type { Queryable } from '../../db/index.ts';

export interface UnmadeRun {
  id: string;
  automation_id: string;
  /** Null when the automation was deleted meanwhile. */
  robot_id: string | null;
  created_by: string | null;
  record_ids: string[];
}

/**
 * Runs whose request is not made yet, that no process is making (or whose process's claim
 * lapsed: it died), claimed for `claimMs`; `ids` only those (the runs this process just gathered).
 */
export async function claimUnmadeRuns(db: Queryable, p: { ids: string[] | null; limit: number; claimMs: number; now: Date }): Promise<UnmadeRun[]> {
  const { rows } = await db.query<UnmadeRun>(
    `
with claimed as (
  update automation_runs set claimed_until = $4::timestamptz + $3::int * interval '1 millisecond'
  where id in (
    select id from automation_runs
    where request_id is null and error is null and (claimed_until is null or claimed_until < $4::timestamptz)
      and ($1::uuid[] is null or id = any($1::uuid[]))
    order by created_at
    limit $2::int
    for update skip locked
  )
  returning id, automation_id, record_ids
)
select c.id, c.automation_id, a.robot_id, a.created_by, c.record_ids
from claimed c left join automations a on a.id = c.automation_id
`,
    [p.ids, p.limit, p.claimMs, p.now.toISOString()],
  );
  return rows;
}

/** The run's request is made. */
export async function setRunRequest(db: Queryable, p: { id: string; requestId: string }): Promise<void> {
  await db.query(`update automation_runs set request_id = $2::uuid, claimed_until = null where id = $1::uuid`, [p.id, p.requestId]);
}

/** The run's request could not be made: why, on the run and as the automation's last error. */
export async function failRun(db: Queryable, p: { id: string; error: string; now: Date }): Promise<void> {
  await db.query(
    `
with run as (update automation_runs set error = $2::text, claimed_until = null where id = $1::uuid returning automation_id)
update automations a set last_error = $2::text, last_error_at = $3::timestamptz from run where a.id = run.automation_id
`,
    [p.id, p.error, p.now.toISOString()],
  );
}
