import type { Queryable } from '../../db/index.ts';

/** Which of `types` the staged records (records_in) have content of, unsealed. */
export async function stagedTypesAmong(db: Queryable, p: { types: string[] }): Promise<string[]> {
  const { rows } = await db.query<{ type: string }>(`select distinct type from records_in where type = any($1::text[]) and content is not null and content_key is null order by type`, [p.types]);
  return rows.map((r) => r.type);
}
