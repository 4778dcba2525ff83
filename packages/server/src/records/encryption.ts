import type { Context } from '../context.ts';
import type { Keyring } from '../keys/index.ts';
import { createService } from '../maintenance/index.ts';
import { listTypesBeingSealed, lockUnsealedRecords, markTypeSealed, storeSealedContent } from './queries/sealStoredContent.ts';

// The content of a record of an encrypted type is stored as a JSON string of sealed text
// (keys/keyring.ts), and `records.content_key` names the data key: docs/encryption.md.
const context = 'record content';

/** A record's content (JSON text) sealed, as the JSON text of the string stored in its place. */
export const sealContent = (keys: Keyring, json: string): string => JSON.stringify(keys.seal(json, context));

/** A stored record with its content opened when it is sealed. */
export function openRecord<R extends { content: unknown; content_key?: string | null }>(keys: Keyring, row: R): Omit<R, 'content_key'> {
  const { content_key, ...rest } = row;
  if (content_key == null) return rest;
  return { ...rest, content: JSON.parse(keys.open(row.content as string, context)) };
}

/** Where an items file line holds sealed record content (itemLineSql puts it after `,"content":`, with no space, unlike the enhancements' jsonb). */
const sealedInLine = /,"content":"(rfe1\.[0-9a-f]+\.[A-Za-z0-9_-]+)"/g;

/**
 * Items file lines with their records' sealed content opened, for the robot. A page of
 * unencrypted records is given back as it is, after one search of its text.
 */
export function openItemsText(keys: Keyring, text: string): string {
  if (!text.includes(',"content":"rfe1.')) return text;
  return text.replace(sealedInLine, (_match, sealed: string) => `,"content":${keys.open(sealed, context)}`);
}

export const sealerDefaults = {
  intervalMs: 2000,
  /** Records sealed per transaction. */
  pageSize: 500,
};

/**
 * The background pass that seals the records stored before their type was marked encrypted, a
 * page per transaction (each row's content and key change in one update), in any number of
 * processes at once (the pages are locked, `skip locked`). When it finds none left it marks the
 * type sealed: imports seal from the moment the type is marked (the mark waits for the imports
 * under way: PUT /v1/record-types).
 */
export function createRecordSealer({ ctx, config = {} }: { ctx: Context; config?: Partial<typeof sealerDefaults> }) {
  const settings = { ...sealerDefaults, ...config };
  async function runOnce(): Promise<{ sealed: number }> {
    let sealed = 0;
    for (const type of await listTypesBeingSealed(ctx.db)) {
      for (;;) {
        const n = await ctx.db.transaction(async (tx) => {
          const rows = await lockUnsealedRecords(tx, { type, limit: settings.pageSize });
          if (rows.length === 0) return 0;
          await storeSealedContent(tx, { ids: rows.map((r) => r.id), contents: rows.map((r) => ctx.keys.seal(r.content, context)), keyId: ctx.keys.currentId });
          return rows.length;
        });
        sealed += n;
        if (n === 0) break;
      }
      if (await markTypeSealed(ctx.db, { type, now: ctx.clock.now() })) ctx.log.info({ type }, 'every record of the type is encrypted');
    }
    return { sealed };
  }
  return createService({ name: 'record-sealer', intervalMs: settings.intervalMs, log: ctx.log, metrics: ctx.metrics, runOnce, touched: (r) => r.sealed });
}
export type RecordSealer = ReturnType<typeof createRecordSealer>;
