import type { Queryable } from '../../db/db.ts';

/**
 * The Standard Webhooks signing secret (`whsec_` + base64 of 32 bytes) of each API key, made on
 * first use. The bytes come from gen_random_uuid (random), two of them to make 244 random bits.
 */
export async function ensureWebhookSecrets(db: Queryable, p: { keyIds: readonly string[]; now: Date }): Promise<Map<string, string>> {
  if (p.keyIds.length === 0) return new Map();
  const ids = [...new Set(p.keyIds)];
  await db.query(
    `
insert into webhook_secrets (key_id, secret, created_at)
select k.id, 'whsec_' || encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), $2::timestamptz
from unnest($1::uuid[]) as k(id)
where exists (select 1 from api_keys a where a.id = k.id)
on conflict (key_id) do nothing
`,
    [ids, p.now.toISOString()],
  );
  const { rows } = await db.query<{ key_id: string; secret: string }>(`select key_id::text, secret from webhook_secrets where key_id = any($1::uuid[])`, [ids]);
  return new Map(rows.map((r) => [r.key_id, r.secret]));
}
