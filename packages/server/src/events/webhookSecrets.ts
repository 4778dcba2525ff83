import type { Context } from '../context.ts';
import { newWebhookSecret, openWebhookSecret, sealWebhookSecret } from '../keys/index.ts';
import { getWebhookSecrets } from './queries/getWebhookSecrets.ts';
import { insertWebhookSecrets } from './queries/insertWebhookSecrets.ts';

/**
 * The Standard Webhooks signing secret of each API key (`whsec_…`), made on first use, by key id;
 * stored sealed (docs/encryption.md). A key that no longer exists has none.
 */
export async function webhookSecrets(ctx: Pick<Context, 'clock' | 'db' | 'keys'>, keyIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(keyIds)];
  if (ids.length === 0) return new Map();
  let rows = await getWebhookSecrets(ctx.db, { keyIds: ids });
  const missing = ids.filter((id) => !rows.some((r) => r.key_id === id));
  if (missing.length > 0) {
    await insertWebhookSecrets(ctx.db, { secrets: missing.map((keyId) => ({ keyId, sealed: sealWebhookSecret(ctx.keys, keyId, newWebhookSecret()) })), now: ctx.clock.now() });
    rows = await getWebhookSecrets(ctx.db, { keyIds: ids });
  }
  return new Map(rows.map((r) => [r.key_id, openWebhookSecret(ctx.keys, r.key_id, r.secret)]));
}
