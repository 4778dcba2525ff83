import type { Queryable } from '../../db/index.ts';
import type { ApiKeyRow } from './insertApiKey.ts';

/**
 * What revoking a key did: `revoked` now or `already` (before), or refused it: the key is the
 * `configured` one (keepHash) or the `last_admin` key that is not revoked.
 */
export type Revocation = { outcome: 'revoked' | 'already' | 'configured' | 'last_admin'; key: ApiKeyRow & { revoked_at: Date | null; key_hash: string } };

/**
 * Revokes an API key unless its hash is `keepHash` or it is the last admin key not revoked; null
 * when no key has that id. The key and every admin key not revoked are locked first, in id order:
 * of two calls revoking the last two admin keys at the same moment, the second waits for the
 * first and then sees one admin key left (a locked row is read again after the wait).
 */
export async function revokeApiKeyIfNotLastAdmin(db: Queryable, p: { id: string; keepHash: string | null; now: Date }): Promise<Revocation | null> {
  const { rows } = await db.query<Revocation['key'] & { outcome: Revocation['outcome'] }>(
    `
with locked as materialized (
  select id, name, role, key_hash, created_at, revoked_at
  from api_keys
  where id = $1::uuid or (role = 'admin' and revoked_at is null)
  order by id
  for update
),
target as (
  select t.*, t.role = 'admin' and not exists (select 1 from locked o where o.role = 'admin' and o.revoked_at is null and o.id <> t.id) as last_admin
  from locked t
  where t.id = $1::uuid
),
revoked as (
  update api_keys k set revoked_at = $2::timestamptz
  from target t
  where k.id = t.id and t.revoked_at is null and t.key_hash is distinct from $3::text and not t.last_admin
  returning k.revoked_at
)
select t.id, t.name, t.role, t.created_at, t.key_hash, coalesce(r.revoked_at, t.revoked_at) as revoked_at,
  case
    when r.revoked_at is not null then 'revoked'
    when t.revoked_at is not null then 'already'
    when t.key_hash = $3::text then 'configured'
    else 'last_admin'
  end as outcome
from target t
left join revoked r on true
`,
    [p.id, p.now.toISOString(), p.keepHash],
  );
  if (rows.length === 0) return null;
  const { outcome, ...key } = rows[0];
  return { outcome, key };
}
