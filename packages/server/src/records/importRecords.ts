import { RecordIn } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { strictAjv } from '../http/index.ts';
import { newId } from '../ids.ts';
import { isBulk, tuneForRows, whyUnstorable } from '../db/index.ts';
import { identifierConflictError } from './identifierConflict.ts';
import { sealContent } from './encryption.ts';
import { listEncryptedTypes } from './queries/encryptedTypes.ts';
import { holdImportLock } from './queries/holdImportLock.ts';
import { stagedTypesAmong } from './queries/stagedTypesAmong.ts';
import { openSpool, type Spool } from './spool.ts';
import { writeRecordsOutbox } from '../automations/index.ts';
import { createRecordsStaging, stagedRecordColumns, stagedRecordTargetsJson, upsertStagedRecords } from './queries/upsertStagedRecords.ts';

/** Most records in one call. */
export const maxRecordsPerImport = 1_000_000;
/** Staged rows are written to the spool in pieces of about this many characters. */
const spoolWriteChars = 64 * 1024;

const validateRecord = strictAjv().compile(RecordIn);

/** How an import seals the content of the encrypted types (null when no type is encrypted). */
interface Sealing {
  types: ReadonlySet<string>;
  keyId: string;
  seal(json: string): string;
}

/** Checks record number `ord` of an import; returns its staging row (stagedRecordColumns) or throws what is wrong with it. */
function stagedRow(value: unknown, ord: number, sealing: Sealing | null): readonly unknown[] {
  if (!validateRecord(value)) {
    const e = validateRecord.errors?.[0];
    const where = `record ${ord}${e?.instancePath ? ` ${e.instancePath.slice(1).replaceAll('/', '.')}` : ''}`;
    const what = e?.keyword === 'additionalProperties' ? `has an unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"` : (e?.message ?? 'is invalid');
    throw errors.invalidRequest(`${where} ${what}`, { record: ord });
  }
  // What parses but PostgreSQL cannot store (a NUL, a lone surrogate, …); also bounds the nesting JSON.stringify walks.
  const unstorable = whyUnstorable(value);
  if (unstorable) throw errors.invalidRequest(`record ${ord} ${unstorable.path} ${unstorable.problem}`, { record: ord, field: unstorable.path });
  const r = value as RecordIn;
  // content as JSON text: COPY would write a JSON string value bare, which is not JSON.
  const content = r.content === undefined ? null : JSON.stringify(r.content);
  if (sealing && content !== null && sealing.types.has(r.type)) {
    return [ord, newId(), r.type, r.identifiers, sealing.seal(content), sealing.keyId, r.visibility ?? null, r.expires_at ?? null];
  }
  return [ord, newId(), r.type, r.identifiers, content, null, r.visibility ?? null, r.expires_at ?? null];
}

/**
 * Reads and checks every record, writing their staging rows to `spool`; returns how many. Holds
 * nothing of the database: a body that stalls or breaks off costs only its file.
 */
async function stageRecords(ctx: Pick<Context, 'db'>, values: AsyncIterable<unknown>, spool: Spool, sealing: Sealing | null): Promise<number> {
  let ord = 0;
  let text = '';
  for await (const value of values) {
    ord++;
    if (ord > maxRecordsPerImport) throw errors.payloadTooLarge(`at most ${maxRecordsPerImport} records in one call`);
    text += ctx.db.rowLine(stagedRecordColumns, stagedRow(value, ord, sealing));
    if (text.length >= spoolWriteChars) {
      await spool.write(text);
      text = '';
    }
  }
  if (ord === 0) throw errors.invalidRequest('send at least one record');
  await spool.write(text);
  return ord;
}

/**
 * Upserts records by identifier, all or nothing. The body is read and checked to the end first,
 * into a file (stageRecords), without touching the database: a bad record is answered before any
 * database work, and a slow client holds no lock and no connection. Then, in one transaction
 * under the import lock, the file is loaded into a staging table (COPY on PostgreSQL) and merged
 * set-based. `json` is the answer (ImportRecordsResult) as JSON text in pieces, the ids a page per piece.
 */
export async function importRecords(ctx: Pick<Context, 'clock' | 'config' | 'db' | 'keys' | 'metrics'>, values: AsyncIterable<unknown>): Promise<{ created: number; updated: number; json: string[] }> {
  // Content is sealed as it is staged, so the spool and the staging table hold it sealed too.
  const encrypted = await listEncryptedTypes(ctx.db);
  const keys = ctx.keys;
  const sealing = encrypted.length === 0 ? null : { types: new Set(encrypted), keyId: keys.currentId, seal: (json: string) => sealContent(keys, json) };
  const spool = await openSpool(ctx.config);
  try {
    const count = await stageRecords(ctx, values, spool, sealing);
    const now = ctx.clock.now();
    const imported = await ctx.db.transaction(async (tx) => {
      await holdImportLock(tx);
      await createRecordsStaging(tx);
      await tx.copyFrom('records_in', stagedRecordColumns, spool.read());
      // A type marked encrypted since the records were read (the mark waits for this lock): its records were staged unsealed.
      const marked = (await listEncryptedTypes(tx)).filter((type) => !encrypted.includes(type));
      if (marked.length > 0) {
        const unsealed = await stagedTypesAmong(tx, { types: marked });
        if (unsealed.length > 0) throw errors.of('encryption_changed', `record type ${unsealed.join(', ')} was marked encrypted while this import was read; send it again`);
      }
      await tuneForRows(tx, count);
      const { conflicts, ...counts } = await upsertStagedRecords(tx, { now, analyze: isBulk(count) });
      if (conflicts.length > 0) throw identifierConflictError(conflicts);
      // The automations' outbox, committed with the records (docs/automations.md).
      const importId = newId();
      const triggers = await writeRecordsOutbox(tx, { importId, now });
      const json = [`{"created":${counts.created},"updated":${counts.updated},${triggers ? `"import_id":"${importId}",` : ''}"ids":[`];
      for await (const page of stagedRecordTargetsJson(tx)) json.push(json.length === 1 ? page : ',' + page);
      json.push(']}');
      return { ...counts, json };
    });
    ctx.metrics.recordsImported.inc({ outcome: 'created' }, imported.created);
    ctx.metrics.recordsImported.inc({ outcome: 'updated' }, imported.updated);
    return imported;
  } finally {
    await spool.close();
  }
}
