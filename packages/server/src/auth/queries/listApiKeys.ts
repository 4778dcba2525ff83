import type { Queryable } from '../../db/index.ts';
import type { ApiKeyRow } from './insertApiKey.ts';

export async function listApiKeys(db: Queryable): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(`
select id, name, role, created_at
from api_keys
where revoked_at is null
order by created_at
`);
  return rows;
}
