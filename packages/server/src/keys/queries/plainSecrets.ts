import type { Queryable } from '../../db/index.ts';

/** Secrets stored before encryption at rest (not `rfe1.` sealed text), a page at a time. */
export async function listPlainSecrets(db: Queryable, p: { limit: number }): Promise<{ robot: Array<{ id: string; owner: string; secret: string }>; webhook: Array<{ id: string; secret: string }> }> {
  const robot = await db.query<{ id: string; owner: string; secret: string }>(
    `select id::text, robot_id::text as owner, secret from robot_secrets where secret not like 'rfe1.%' limit $1::int`,
    [p.limit],
  );
  const webhook = await db.query<{ id: string; secret: string }>(`select key_id::text as id, secret from webhook_secrets where secret not like 'rfe1.%' limit $1::int`, [p.limit]);
  return { robot: robot.rows, webhook: webhook.rows };
}

/** Replaces plain secrets with their sealed text, set-based; a row sealed meanwhile by another process is left as it is. */
export async function storeSealedSecrets(db: Queryable, p: { robot: Array<{ id: string; sealed: string }>; webhook: Array<{ id: string; sealed: string }> }): Promise<void> {
  if (p.robot.length > 0) {
    await db.query(
      `update robot_secrets s set secret = x.sealed from unnest($1::uuid[], $2::text[]) as x(id, sealed) where s.id = x.id and s.secret not like 'rfe1.%'`,
      [p.robot.map((r) => r.id), p.robot.map((r) => r.sealed)],
    );
  }
  if (p.webhook.length > 0) {
    await db.query(
      `update webhook_secrets s set secret = x.sealed from unnest($1::uuid[], $2::text[]) as x(id, sealed) where s.key_id = x.id and s.secret not like 'rfe1.%'`,
      [p.webhook.map((r) => r.id), p.webhook.map((r) => r.sealed)],
    );
  }
}
