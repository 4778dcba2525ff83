import type { Queryable } from '../../db/index.ts';

/**
 * Deletes an automation and what it had gathered; the runs of the requests it made stay, as their
 * provenance. Whether there was one.
 */
export async function deleteAutomation(db: Queryable, p: { id: string }): Promise<boolean> {
  const { rows } = await db.query<{ deleted: boolean }>(
    `
with a as (delete from automations where id = $1::uuid returning id),
dropped as (delete from automation_matches m using a where m.automation_id = a.id)
select exists (select 1 from a) as deleted
`,
    [p.id],
  );
  return rows[0].deleted;
}
