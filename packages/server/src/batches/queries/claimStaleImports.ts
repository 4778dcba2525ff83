import type { Queryable } from '../../db/db.ts';

/**
 * Claims batches whose import was started but not finished in time (the importing process died),
 * extending their import deadline so one process resumes each.
 */
export async function claimStaleImports(db: Queryable, p: { now: Date; importMs: number; limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `
update batches set import_expires_at = $1::timestamptz + make_interval(secs => $2::int / 1000.0)
where id in (
  select id from batches
  where status = 'importing' and import_expires_at <= $1::timestamptz
  limit $3::int
  for update skip locked
)
returning id::text
`,
    [p.now.toISOString(), p.importMs, p.limit],
  );
  return rows.map((r) => r.id);
}
