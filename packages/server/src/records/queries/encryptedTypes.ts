import type { Queryable } from '../../db/index.ts';

/** The record types whose content is stored encrypted. */
export async function listEncryptedTypes(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ type: string }>(`select type from encrypted_record_types order by type`);
  return rows.map((r) => r.type);
}

/** Marks a record type encrypted (nothing when it is already). */
export async function markTypeEncrypted(db: Queryable, p: { type: string; now: Date }): Promise<void> {
  await db.query(`insert into encrypted_record_types (type, updated_at) values ($1::text, $2::timestamptz) on conflict (type) do nothing`, [p.type, p.now.toISOString()]);
}

export interface EncryptionRow {
  type: string;
  /** Records of the type not sealed yet (0 once the background pass has found none). */
  pending: number;
  updated_at: Date;
}

/** The encryption of these record types (all, when null), and how many of their records are not sealed yet. */
export async function getEncryption(db: Queryable, p: { types: string[] | null }): Promise<EncryptionRow[]> {
  const { rows } = await db.query<EncryptionRow>(
    `
select t.type, t.updated_at,
  case when t.sealed_at is not null then 0 else (select count(*) from records r where r.type = t.type and r.content_key is null) end::int as pending
from encrypted_record_types t
where $1::text[] is null or t.type = any($1::text[])
order by t.type
`,
    [p.types],
  );
  return rows;
}
