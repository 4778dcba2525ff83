import type { Queryable } from '../../db/index.ts';

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

/** Records where each written manifest is, and ends its claim: one statement for all of them. */
export async function setManifestKeys(db: Queryable, p: { written: ReadonlyArray<{ requestId: string; key: string }> }): Promise<void> {
  if (p.written.length === 0) return;
  await db.query(
    `update requests r set manifest_key = w.key, manifest_claimed_until = null
from unnest($1::uuid[], $2::text[]) as w(id, key)
where r.id = w.id`,
    [p.written.map((w) => w.requestId), p.written.map((w) => w.key)],
  );
}
