import type { FastifyPluginAsync } from 'fastify';
import { formatDuration, parseDuration, RecordTypeList, RecordTypeOut, RecordTypeParams, RecordTypePut } from '@refinery/protocol';
import type { Context } from '../context.ts';
import { errors } from '../errors.ts';
import { deleteRecordType } from './queries/deleteRecordType.ts';
import { listRecordTypes } from './queries/listRecordTypes.ts';
import { putRecordType } from './queries/putRecordType.ts';
import type { RecordTypeRow } from './queries/recordTypeRow.ts';

/** The longest retention taken: 100 years. */
const maxRetentionMs = 100 * 366 * 24 * 3600_000;

function recordTypeOut(row: RecordTypeRow) {
  return {
    type: row.type,
    retention: { full_until: formatDuration(row.full_until_ms), aged_out: formatDuration(row.aged_out_ms), decay: row.decay },
    updated_at: row.updated_at,
  };
}

function durationMs(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms > maxRetentionMs) throw errors.invalidRequest(`${name} must be a duration of at most 100 years`);
  return ms;
}

export const retentionRoutes: FastifyPluginAsync<{ ctx: Context }> = async (app, { ctx }) => {
  app.put('/v1/record-types/:type', {
    config: { access: 'admin' },
    schema: { tags: ['record types'], summary: "Set (or with `retention: null` remove) a record type's retention policy", params: RecordTypeParams, body: RecordTypePut, response: { 200: RecordTypeOut } },
    handler: async (request) => {
      const { type } = request.params as { type: string };
      const { retention } = request.body as RecordTypePut;
      if (retention === null) {
        await deleteRecordType(ctx.db, { type });
        return { type, retention: null, updated_at: null };
      }
      const agedOutMs = durationMs('aged_out', retention.aged_out);
      const fullUntilMs = retention.full_until === undefined ? agedOutMs : durationMs('full_until', retention.full_until);
      const decay = retention.decay ?? false;
      if (agedOutMs <= 0) throw errors.unprocessable('invalid_retention', 'aged_out must be longer than zero');
      if (fullUntilMs > agedOutMs) throw errors.unprocessable('invalid_retention', 'full_until must not be longer than aged_out');
      if (decay && fullUntilMs === agedOutMs) throw errors.unprocessable('invalid_retention', 'decay needs full_until shorter than aged_out: the records decay in between');
      return recordTypeOut(await putRecordType(ctx.db, { type, fullUntilMs, agedOutMs, decay, now: ctx.clock.now() }));
    },
  });

  app.get('/v1/record-types', {
    config: { access: 'requester' },
    schema: { tags: ['record types'], summary: 'The record types that carry a retention policy', response: { 200: RecordTypeList } },
    handler: async () => ({ data: (await listRecordTypes(ctx.db)).map(recordTypeOut) }),
  });

  app.get('/v1/record-types/:type', {
    config: { access: 'requester' },
    schema: { tags: ['record types'], summary: "A record type's retention policy (null: it never ages out)", params: RecordTypeParams, response: { 200: RecordTypeOut } },
    handler: async (request) => {
      const { type } = request.params as { type: string };
      const [row] = await listRecordTypes(ctx.db, { type });
      return row ? recordTypeOut(row) : { type, retention: null, updated_at: null };
    },
  });
};
