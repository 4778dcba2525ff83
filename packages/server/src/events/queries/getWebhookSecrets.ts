import type { Queryable } from '../../db/index.ts';

/** The stored (sealed) webhook secrets of these API keys, by key id. */
export async function getWebhookSecrets(db: Queryable, p: { keyIds: readonly string[] }): Promise<Array<{ key_id: string; secret: string }>> {
  const { rows } = await db.query<{ key_id: string; secret: string }>(`select key_id::text, secret from webhook_secrets where key_id = any($1::uuid[])`, [p.keyIds]);
  return rows;
}
