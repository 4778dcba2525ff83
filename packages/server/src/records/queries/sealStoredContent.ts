import type { Queryable } from '../../db/index.ts';

/** The encrypted types whose records stored before they were marked are not all sealed yet. */
export async function listTypesBeingSealed(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ type: string }>(`select type from encrypted_record_types where sealed_at is null order by type`);
  return rows.map((r) => r.type);
}

/** Up to `limit` records of `type` whose content is not sealed, locked until the transaction ends (others skip them). */
export async function lockUnsealedRecords(db: Queryable, p: { type: string; limit: number }): Promise<Array<{ id: string; content: string }>> {
  const { rows } = await db.query<{ id: string; content: string }>(
    `select id::text, content::text as content from records where type = $1::text and content_key is null order by id limit $2::int for update skip locked`,
    [p.type, p.limit],
  );
  return rows;
}

/** Stores each record's sealed content (a JSON string) with the data key that sealed it, in one statement: a row is sealed whole or not at all. */
export async function storeSealedContent(db: Queryable, p: { ids: string[]; contents: string[]; keyId: string }): Promise<void> {
  await db.query(
    `update records r set content = to_jsonb(x.sealed), content_key = $3::text from unnest($1::uuid[], $2::text[]) as x(id, sealed) where r.id = x.id and r.content_key is null`,
    [p.ids, p.contents, p.keyId],
  );
}

/** Marks `type` sealed when none of its records is left to seal; true when it was. */
export async function markTypeSealed(db: Queryable, p: { type: string; now: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `update encrypted_record_types set sealed_at = $2::timestamptz where type = $1::text and sealed_at is null and not exists (select 1 from records where type = $1::text and content_key is null)`,
    [p.type, p.now.toISOString()],
  );
  return rowCount === 1;
}
