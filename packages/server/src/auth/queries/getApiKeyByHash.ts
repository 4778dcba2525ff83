import type { Queryable } from '../../db/index.ts';
import type { ApiKeyRow } from './insertApiKey.ts';

export async function getApiKeyByHash(db: Queryable, keyHash: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<ApiKeyRow>(
    `
select id, name, role, created_at
from api_keys
where key_hash = $1::text and revoked_at is null
`,
    [keyHash],
  );
  return rows[0] ?? null;
}
