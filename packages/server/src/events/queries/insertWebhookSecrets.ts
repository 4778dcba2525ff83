import type { Queryable } from '../../db/index.ts';

/** Stores these (sealed) secrets for the API keys that exist and have none yet. */
export async function insertWebhookSecrets(db: Queryable, p: { secrets: Array<{ keyId: string; sealed: string }>; now: Date }): Promise<void> {
  await db.query(
    `
insert into webhook_secrets (key_id, secret, created_at)
select k.id, k.sealed, $3::timestamptz
from unnest($1::uuid[], $2::text[]) as k(id, sealed)
where exists (select 1 from api_keys a where a.id = k.id)
on conflict (key_id) do nothing
`,
    [p.secrets.map((s) => s.keyId), p.secrets.map((s) => s.sealed), p.now.toISOString()],
  );
}
