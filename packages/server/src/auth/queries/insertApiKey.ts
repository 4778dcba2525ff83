import type { Queryable } from '../../db/index.ts';

export interface ApiKeyRow {
  id: string;
  name: string;
  role: 'admin' | 'requester';
  created_at: Date;
}

/** Inserts a key; an existing key with the same hash is left as it is (null). */
export async function insertApiKey(db: Queryable, p: { id: string; name: string; role: string; keyHash: string; now: Date }): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<ApiKeyRow>(
    `
insert into api_keys (id, name, role, key_hash, created_at)
values ($1::uuid, $2::text, $3::text, $4::text, $5::timestamptz)
on conflict (key_hash) do nothing
returning id, name, role, created_at
`,
    [p.id, p.name, p.role, p.keyHash, p.now.toISOString()],
  );
  return rows[0] ?? null;
}
