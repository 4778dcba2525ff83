import type { Queryable } from '../../db/index.ts';

/** Extends the import lease of a batch still importing (the process running its import is alive). */
export async function renewImportLeaseIfImporting(db: Queryable, p: { batchId: string; importLeaseMs: number; now: Date }): Promise<void> {
  await db.query(
    `
update batches set import_expires_at = $2::timestamptz + make_interval(secs => $3::int / 1000.0)
where id = $1::uuid and status = 'importing'
`,
    [p.batchId, p.now.toISOString(), p.importLeaseMs],
  );
}
