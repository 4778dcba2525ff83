import type { Queryable } from '../../db/db.ts';

/**
 * Claims finished requests whose manifest is not written yet (the process that finished them may
 * have died first), for `claimMs`, so only one process writes each at a time.
 */
export async function claimUnwrittenManifests(db: Queryable, p: { requestIds?: readonly string[]; now: Date; claimMs: number; limit: number }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `
update requests set manifest_claimed_until = $1::timestamptz + make_interval(secs => $2::int / 1000.0)
where id in (
  select id from requests
  where finished_at is not null and manifest_key is null
    and (manifest_claimed_until is null or manifest_claimed_until < $1::timestamptz)
    and ($3::uuid[] is null or id = any($3::uuid[]))
  order by finished_at
  limit $4::int
  for update skip locked
)
returning id::text
`,
    [p.now.toISOString(), p.claimMs, p.requestIds ?? null, p.limit],
  );
  return rows.map((r) => r.id);
}

export async function setManifestKey(db: Queryable, p: { requestId: string; key: string }): Promise<void> {
  await db.query(`update requests set manifest_key = $2::text, manifest_claimed_until = null where id = $1::uuid`, [p.requestId, p.key]);
}
