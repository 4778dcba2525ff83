import type { Queryable } from '../../db/index.ts';

export const recordColumns = `r.id, r.type, r.identifiers, r.content, r.content_key, r.visibility, r.created_at, r.updated_at, r.expires_at`;

export interface RecordRow {
  id: string;
  type: string;
  identifiers: Array<{ type: string; value: string }>;
  content: unknown;
  /** The data key its content is sealed with (records/encryption.ts); null: stored as it came. */
  content_key: string | null;
  visibility: 'public' | 'restricted' | 'hidden';
  created_at: Date;
  updated_at: Date;
  expires_at: Date | null;
}

/** A record with its enhancements, oldest first. */
export async function getRecordWithEnhancements(db: Queryable, p: { id: string }): Promise<(RecordRow & { enhancements: unknown[] }) | null> {
  const { rows } = await db.query<RecordRow & { enhancements: unknown[] }>(
    `
select ${recordColumns},
  coalesce((
    select jsonb_agg(jsonb_build_object(
      'id', e.id, 'record_id', e.record_id, 'robot_id', e.robot_id, 'request_id', e.request_id, 'batch_id', e.batch_id,
      'type', e.type, 'content', e.content, 'content_hash', e.content_hash, 'robot_version', e.robot_version,
      'derived_from', to_jsonb(e.derived_from), 'source', e.source, 'visibility', e.visibility, 'created_at', e.created_at) order by e.created_at, e.id)
    from enhancements e where e.record_id = r.id
  ), '[]') as enhancements
from records r
where r.id = $1::uuid
`,
    [p.id],
  );
  return rows[0] ?? null;
}
