import type { Queryable } from '../../db/index.ts';

/**
 * Claims batches whose import lease lapsed (the importing process died, or stalled past it: the
 * import is idempotent), taking the lease so that one process resumes each.
 */
export async function claimStaleImports(db: Queryable, p: { now: Date; importLeaseMs: number; limit: number }): Promise<string[]> {
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
    [p.now.toISOString(), p.importLeaseMs, p.limit],
  );
  return rows.map((r) => r.id);
}
