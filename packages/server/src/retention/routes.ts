import { formatDuration, parseDuration, RecordTypeList, RecordTypeOut, RecordTypeParams, RecordTypePut } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { routePlugin } from '../http/index.ts';
import { deleteRecordType } from './queries/deleteRecordType.ts';
import { listRecordTypes } from './queries/listRecordTypes.ts';
import { putRecordType } from './queries/putRecordType.ts';
import type { RecordTypeRow } from './queries/recordTypeRow.ts';
import { type EncryptionRow, getEncryption, holdImportLock, markTypeEncrypted } from '../records/index.ts';

/** The longest retention taken: 100 years. */
const maxRetentionMs = 100 * 366 * 24 * 3600_000;

function recordTypeOut(type: string, row: RecordTypeRow | undefined, encryption: EncryptionRow | undefined) {
  const updated = [row?.updated_at, encryption?.updated_at].filter((d): d is Date => d !== undefined).map((d) => new Date(d));
  return {
    type,
    retention: row ? { full_until: formatDuration(row.full_until_ms), aged_out: formatDuration(row.aged_out_ms), decay: row.decay } : null,
    encrypted: encryption !== undefined,
    encryption: encryption ? { status: encryption.pending === 0 ? ('encrypted' as const) : ('encrypting' as const), records_pending: encryption.pending } : null,
    updated_at: updated.length === 0 ? null : new Date(Math.max(...updated.map((d) => d.getTime()))),
  };
}

/** A record type's policies: retention (docs/retention.md) and encryption (docs/encryption.md). */
async function readRecordType(ctx: Pick<Context, 'db'>, type: string) {
  const [row] = await listRecordTypes(ctx.db, { type });
  const [encryption] = await getEncryption(ctx.db, { types: [type] });
  return recordTypeOut(type, row, encryption);
}

function durationMs(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms > maxRetentionMs) throw errors.invalidRequest(`${name} must be a duration of at most 100 years`);
  return ms;
}

/** A retention policy checked, in milliseconds. */
function retentionPolicy(retention: NonNullable<RecordTypePut['retention']>): { fullUntilMs: number; agedOutMs: number; decay: boolean } {
  const agedOutMs = durationMs('aged_out', retention.aged_out);
  const fullUntilMs = retention.full_until === undefined ? agedOutMs : durationMs('full_until', retention.full_until);
  const decay = retention.decay ?? false;
  if (agedOutMs <= 0) throw errors.of('invalid_retention', 'aged_out must be longer than zero');
  if (fullUntilMs > agedOutMs) throw errors.of('invalid_retention', 'full_until must not be longer than aged_out');
  if (decay && fullUntilMs === agedOutMs) throw errors.of('invalid_retention', 'decay needs full_until shorter than aged_out: the records decay in between');
  return { fullUntilMs, agedOutMs, decay };
}

export const retentionRoutes = routePlugin<{ ctx: Pick<Context, 'clock' | 'db'> }>('record-types', async (app, { ctx }) => {
  app.put('/v1/record-types/:type', {
    config: { access: 'admin' },
    schema: { tags: ['record types'], summary: "Set (or with `retention: null` remove) a record type's retention policy; mark it `encrypted`", params: RecordTypeParams, body: RecordTypePut, response: { 200: RecordTypeOut } },
    handler: async (request) => {
      const { type } = request.params;
      const { retention, encrypted } = request.body;
      const policy = retention ? retentionPolicy(retention) : retention;
      const [encryption] = await getEncryption(ctx.db, { types: [type] });
      if (encrypted === false && encryption) throw errors.of('encryption_is_permanent', `record type ${type} is encrypted, and stays so: its records' content is never stored in clear again`);
      if (policy === null) await deleteRecordType(ctx.db, { type });
      else if (policy) await putRecordType(ctx.db, { type, ...policy, now: ctx.clock.now() });
      if (encrypted && !encryption) {
        // Under the import lock: an import either finished before (the background pass seals its
        // records) or reads the mark and seals as it stages (records/importRecords.ts).
        await ctx.db.transaction(async (tx) => {
          await holdImportLock(tx);
          await markTypeEncrypted(tx, { type, now: ctx.clock.now() });
        });
      }
      return readRecordType(ctx, type);
    },
  });

  app.get('/v1/record-types', {
    config: { access: 'requester' },
    schema: { tags: ['record types'], summary: 'The record types that carry a retention policy or are encrypted', response: { 200: RecordTypeList } },
    handler: async () => {
      const retained = new Map((await listRecordTypes(ctx.db)).map((r) => [r.type, r]));
      const encrypted = new Map((await getEncryption(ctx.db, { types: null })).map((e) => [e.type, e]));
      const types = [...new Set([...retained.keys(), ...encrypted.keys()])].sort();
      return { data: types.map((type) => recordTypeOut(type, retained.get(type), encrypted.get(type))) };
    },
  });

  app.get('/v1/record-types/:type', {
    config: { access: 'requester' },
    schema: {
      tags: ['record types'],
      summary: "A record type's retention policy (null: it never ages out) and encryption, with the progress of encrypting the records stored before it was marked",
      params: RecordTypeParams,
      response: { 200: RecordTypeOut },
    },
    handler: async (request) => readRecordType(ctx, request.params.type),
  });
});
