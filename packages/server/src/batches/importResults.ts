import { PassThrough } from 'node:stream';
import type { ValidateFunction } from 'ajv';
import { contentHash, maxResultLineBytes, type ReportLine, uuidPattern } from '@refinery/protocol';
import { blobKeys } from '../blobs/index.ts';
import type { Context } from '../context.ts';
import { mayBeUnstorable, whyUnstorable } from '../db/index.ts';
import { strictAjv } from '../http/index.ts';
import { newId } from '../ids.ts';
import { afterRequestsFinished, finishRequestsIfDone } from '../requests/index.ts';
import { judgeDestinyLine, validationEntry } from '../destiny/index.ts';
import { notifyRetries } from '../work/index.ts';
import { readLines, type Line } from './lines.ts';
import { completeImportedBatch } from './queries/completeImportedBatch.ts';
import { getImportContext, type ImportContext } from './queries/getImportContext.ts';
import { insertEnhancements, type NewEnhancement } from './queries/insertEnhancements.ts';
import { requestIdsOf } from './queries/itemMoves.ts';
import { renewImportLeaseIfImporting } from './queries/renewImportLease.ts';
import { requestIdsOfBatch } from './queries/requestIdsOfBatch.ts';
import { inSpan } from '../ops/index.ts';
import { retryOrFailAnsweredItems } from './queries/retryOrFailAnsweredItems.ts';
import { settleImportedItems, type ItemOutcome } from './queries/settleImportedItems.ts';
import type { Verdict } from './verdict.ts';

/** Enhancements inserted per statement. */
const enhancementsPerInsert = 1000;
/** The report is written in pieces of about this many characters. */
const reportWriteChars = 64 * 1024;

const ajv = strictAjv();
const compiledSchemas = new Map<string, ValidateFunction>();

/** The robot's content validators, compiled once per robot version. */
function contentValidators(ctx: ImportContext): Map<string, ValidateFunction | null> {
  const validators = new Map<string, ValidateFunction | null>();
  for (const p of ctx.produces) {
    if (!p.schema) {
      validators.set(p.type, null);
      continue;
    }
    const cacheKey = `${ctx.robot_id}:${ctx.robot_updated_at.toISOString?.() ?? ctx.robot_updated_at}:${p.type}`;
    let validate = compiledSchemas.get(cacheKey);
    if (!validate) compiledSchemas.set(cacheKey, (validate = ajv.compile(p.schema)));
    validators.set(p.type, validate);
  }
  return validators;
}

const resultFields = new Set(['record_id', 'type', 'content', 'robot_version', 'derived_from']);

/** Checks one results line against the batch; never throws. */
function judgeLine(text: string, inBatch: Map<string, string>, validators: Map<string, ValidateFunction | null>): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reject: 'this line is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reject: 'this line is not a JSON object' };
  const line = value as Record<string, unknown>;
  const recordId = line.record_id;
  if (typeof recordId !== 'string' || !uuidPattern.test(recordId)) return { reject: 'this line has no record_id (a UUID)' };
  const id = recordId.toLowerCase();
  if (!inBatch.has(id)) return { reject: `record ${recordId} is not in this batch`, recordId: id };
  // First, so that no message below quotes what cannot be stored.
  const unstorable = mayBeUnstorable(text) ? whyUnstorable(line) : null;
  if (unstorable) return { reject: `${unstorable.path || 'the line'} ${unstorable.problem}`, recordId: id };
  if ('error' in line) {
    const message = (line.error as { message?: unknown } | null)?.message;
    if (typeof message !== 'string' || message === '') return { reject: 'error must be an object with a message', recordId: id };
    const retryable = (line.error as { retryable?: unknown }).retryable ?? false;
    if (typeof retryable !== 'boolean') return { reject: 'error.retryable must be true or false', recordId: id };
    return { robotError: message, recordId: id, retryable };
  }
  const unknown = Object.keys(line).find((k) => !resultFields.has(k));
  if (unknown) return { reject: `unknown field "${unknown}"`, recordId: id };
  if (typeof line.type !== 'string') return { reject: 'type must be the enhancement type, a string', recordId: id };
  if (!validators.has(line.type)) {
    return { reject: `enhancement type "${line.type}" is not one this robot produces (it produces ${[...validators.keys()].join(', ')})`, recordId: id };
  }
  if (!('content' in line)) return { reject: 'content is missing', recordId: id };
  const validate = validators.get(line.type);
  if (validate && !validate(line.content)) {
    const e = validate.errors?.[0];
    return { reject: `content does not match the schema for "${line.type}": ${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}`, recordId: id };
  }
  if (line.robot_version !== undefined && typeof line.robot_version !== 'string') return { reject: 'robot_version must be a string', recordId: id };
  if (line.derived_from !== undefined && !(Array.isArray(line.derived_from) && line.derived_from.every((d) => typeof d === 'string' && uuidPattern.test(d)))) {
    return { reject: 'derived_from must be an array of enhancement ids (UUIDs)', recordId: id };
  }
  return {
    accept: {
      record_id: id,
      type: line.type,
      content: line.content,
      content_hash: contentHash(line.content),
      robot_version: (line.robot_version as string | undefined) ?? null,
      derived_from: (line.derived_from as string[] | undefined) ?? null,
    },
  };
}

/**
 * Validates a batch's results file as a stream, imports what passes set-based, writes the
 * validation report, settles every item and finishes the requests that are done. Idempotent:
 * after a crash it runs again from the start with the same outcome. `context`: the batch's import
 * context as the fence just read it (StartedImport); without it, it is read here.
 * While it runs, it renews the batch's import lease every quarter of it: a slow import stays this
 * process's, and one whose process died is resumed by another once the lease lapses.
 */
export async function importResults(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'config' | 'db' | 'log' | 'metrics'>, batchId: string, context: ImportContext | null = null): Promise<void> {
  const lease = keepImportLease(ctx, batchId);
  const started = performance.now();
  try {
    await inSpan('refinery.import', { attributes: { 'refinery.batch_id': batchId } }, async (span) => {
      const robot = await runImport(ctx, batchId, context);
      if (!robot) return;
      span.setAttribute('refinery.robot_id', robot);
      ctx.metrics.batchImportDuration.observe({ robot }, (performance.now() - started) / 1000);
    });
  } finally {
    lease.stop();
  }
}

/** Renews the import lease of `batchId` every quarter of it until stopped; a failed renewal is logged and tried again at the next. */
function keepImportLease(ctx: Pick<Context, 'clock' | 'config' | 'db' | 'log'>, batchId: string): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const renew = () => {
    renewImportLeaseIfImporting(ctx.db, { batchId, importLeaseMs: ctx.config.importLeaseMs, now: ctx.clock.now() })
      .catch((err) => ctx.log.warn({ err, batch_id: batchId }, 'could not renew the import lease'))
      .finally(() => {
        if (!stopped) schedule();
      });
  };
  const schedule = () => {
    timer = setTimeout(renew, ctx.config.importLeaseMs / 4);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Returns the batch's robot, null when there was nothing to import. */
async function runImport(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>, batchId: string, context: ImportContext | null): Promise<string | null> {
  const batch = context ?? (await getImportContext(ctx.db, { batchId }));
  if (!batch) return null;
  const now = ctx.clock.now();
  // Resumed after its items were settled: only the last step is left.
  if (batch.report_key) {
    await completeImport(ctx, { batchId, robotId: batch.robot_id, requestIds: await requestIdsOfBatch(ctx.db, { batchId }), now });
    return batch.robot_id;
  }
  const requestOf = new Map(batch.items.map((i) => [i.record_id, i.request_id]));
  /** Items cancelled or expired with their request while the robot held them: reported, not imported. */
  const closed = new Map(batch.closed.map((i) => [i.record_id, i]));
  const validators = contentValidators(batch);
  // A DESTINY robot's results and report are in DESTINY's formats (docs/destiny.md).
  const produces = new Set(batch.produces.map((p) => p.type));
  const judge = batch.protocol === 'destiny' ? (text: string, entry: number) => judgeDestinyLine(text, entry, requestOf, produces) : (text: string) => judgeLine(text, requestOf, validators);
  const reportForm: (line: ReportLine) => object = batch.protocol === 'destiny' ? validationEntry : (line) => line;
  const outcomes = new Map<string, ItemOutcome>();
  /** Per-record errors the robot marked retryable: back to pending while attempts remain. */
  const retryableErrors: Array<{ record_id: string; message: string }> = [];
  const answeredOn = new Map<string, number>();
  /** Rejected lines that name no record of this batch: the never-answered items point at them. */
  const unattributed = { count: 0, first: '' };

  const report = new PassThrough();
  const reportKey = blobKeys.report(batchId);
  const reportWritten = ctx.blobs.put(reportKey, report);
  reportWritten.catch(() => {});
  // Report lines are gathered into writes of about 64 KB, which wait only when the file lags.
  let reportText = '';
  const sendReport = async () => {
    const text = reportText;
    reportText = '';
    if (text && !report.write(text)) await new Promise((r) => report.once('drain', r));
  };
  const writeReport = (line: ReportLine) => {
    reportText += JSON.stringify(reportForm(line)) + '\n';
  };

  let pending: NewEnhancement[] = [];
  /** The results line of each pending enhancement. */
  let pendingLines: number[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const chunk = pending;
    const lines = pendingLines;
    pending = [];
    pendingLines = [];
    const results = await insertEnhancements(ctx.db, { robotId: batch.robot_id, batchId, enhancements: chunk, now });
    const byRecord = new Map(results.map((r) => [r.record_id, r]));
    chunk.forEach((e, i) => {
      const r = byRecord.get(e.record_id)!;
      if (r.outcome === 'record_gone') {
        outcomes.set(e.record_id, { record_id: e.record_id, status: 'failed', enhancement_id: null, error_code: 'record_gone', error_message: 'the record was deleted before its enhancement could be imported' });
        writeReport({ line: lines[i], record_id: e.record_id, outcome: 'rejected', message: 'the record no longer exists' });
        return;
      }
      const discarded = r.outcome === 'discarded';
      outcomes.set(e.record_id, { record_id: e.record_id, status: discarded ? 'discarded' : 'completed', enhancement_id: r.enhancement_id, error_code: null, error_message: null });
      writeReport({ line: lines[i], record_id: e.record_id, outcome: discarded ? 'discarded' : 'imported', ...(discarded && { message: 'an identical enhancement is already stored' }) });
    });
  };

  let neverAnswered = 'the robot never answered this record';
  const unanswered: string[] = [];
  /** Lines that are not blank, so far. */
  let entries = 0;
  /** Judges one results line: its enhancement waits in `pending`, anything else is settled and reported at once. */
  const take = (line: Line) => {
    if (!line.tooLong && line.text.trim() === '') return;
    entries++;
    const verdict: Verdict = line.tooLong ? { reject: `this line is longer than the limit of ${maxResultLineBytes} bytes` } : judge(line.text, entries);
    const recordId = 'accept' in verdict ? verdict.accept.record_id : verdict.recordId;
    if (recordId && requestOf.has(recordId)) {
      const first = answeredOn.get(recordId);
      if (first !== undefined) {
        writeReport({ line: line.number, record_id: recordId, outcome: 'rejected', message: `record ${recordId} was answered twice; line ${first} stands` });
        return;
      }
      answeredOn.set(recordId, line.number);
    }
    if ('accept' in verdict) {
      const enhancement = verdict.accept as NewEnhancement;
      enhancement.id = newId();
      enhancement.request_id = requestOf.get(enhancement.record_id)!;
      pending.push(enhancement);
      pendingLines.push(line.number);
    } else if ('robotError' in verdict) {
      if (verdict.retryable) retryableErrors.push({ record_id: verdict.recordId, message: verdict.robotError });
      else outcomes.set(verdict.recordId, { record_id: verdict.recordId, status: 'failed', enhancement_id: null, error_code: 'robot_error', error_message: verdict.robotError });
      writeReport({ line: line.number, record_id: verdict.recordId, outcome: 'robot_error', message: verdict.robotError });
    } else if (verdict.recordId && closed.has(verdict.recordId)) {
      const item = closed.get(verdict.recordId)!;
      writeReport({ line: line.number, record_id: verdict.recordId, outcome: 'rejected', message: `not imported: this item was ${item.status} (${item.error_message ?? item.status})` });
    } else {
      if (verdict.recordId && requestOf.has(verdict.recordId)) {
        outcomes.set(verdict.recordId, { record_id: verdict.recordId, status: 'failed', enhancement_id: null, error_code: 'rejected', error_message: `line ${line.number}: ${verdict.reject}` });
      } else {
        if (unattributed.count++ === 0) unattributed.first = `line ${line.number}: ${verdict.reject}`;
      }
      writeReport({ line: line.number, ...(verdict.recordId && { record_id: verdict.recordId }), outcome: 'rejected', message: verdict.reject });
    }
  };
  try {
    const results = await ctx.blobs.get(batch.results_key);
    if (results) {
      for await (const lines of readLines(results, maxResultLineBytes)) {
        for (const line of lines) {
          take(line);
          if (pending.length >= enhancementsPerInsert) await flush();
        }
        if (reportText.length >= reportWriteChars) await sendReport();
      }
    }
    await flush();
    if (!results) neverAnswered = 'the robot uploaded no results file';
    else if (unattributed.count > 0) {
      const lines = unattributed.count === 1 ? 'a line of its results was' : `${unattributed.count} lines of its results were`;
      neverAnswered = `${neverAnswered}; ${lines} rejected without naming a record of this batch (${unattributed.first})`;
    }
    for (const recordId of requestOf.keys()) {
      if (answeredOn.has(recordId)) continue;
      unanswered.push(recordId);
      writeReport({ record_id: recordId, outcome: 'missing', message: neverAnswered });
      if (reportText.length >= reportWriteChars) await sendReport();
    }
    await sendReport();
    report.end();
    await reportWritten;
  } catch (err) {
    report.destroy(err as Error);
    throw err;
  }

  const settle = { batchId, outcomes: [...outcomes.values()], reportKey, now };
  if (retryableErrors.length === 0 && unanswered.length === 0) {
    // Every item answered for good, the common case: the items whose fate differs from the batch's
    // settle in a statement of their own, so the request rows' locks (taken by the count trigger)
    // are held for that statement only, not across round trips to this process. A crash after it
    // leaves the batch `importing` with its report recorded: the resumed import only completes it.
    const settled = await settleImportedItems(ctx.db, settle);
    ctx.metrics.itemsMoved(settled);
    await completeImport(ctx, { batchId, robotId: batch.robot_id, requestIds: requestIdsOf(settled), now });
    return batch.robot_id;
  }
  const { moves, completed, finished } = await ctx.db.transaction(async (tx) => {
    const settled = await settleImportedItems(tx, settle);
    const retried = await retryOrFailAnsweredItems(tx, { batchId, code: 'robot_error', errors: retryableErrors, now });
    // Never answered: retried while attempts remain, at the same moment.
    const missing = await retryOrFailAnsweredItems(tx, { batchId, code: 'missing', errors: unanswered.map((record_id) => ({ record_id, message: neverAnswered })), now });
    await notifyRetries(tx, [...retried.retries, ...missing.retries]);
    const completed = await completeImportedBatch(tx, { batchId, now });
    const moves = [...settled, ...retried.moves, ...missing.moves, ...completed.moves];
    const finished = await finishRequestsIfDone(tx, { requestIds: requestIdsOf(moves), now });
    return { moves, completed: completed.completed, finished };
  });
  ctx.metrics.itemsMoved(moves);
  if (completed) ctx.metrics.batchesImported.inc({ robot: batch.robot_id });
  afterRequestsFinished(ctx, finished);
  return batch.robot_id;
}

/**
 * An import's last step, once its items are settled: the batch completes, with the items still in
 * it, then the requests whose items are all final finish (those of `requestIds`, and those of the
 * items that completed with the batch). Two statements, each committed on its own (on PGlite a
 * transaction would hold the one connection across round trips to this thread): a process that
 * dies between them leaves the requests to the orphaned-requests service
 * (maintenance/orphanedRequests.ts).
 */
async function completeImport(ctx: Pick<Context, 'background' | 'blobs' | 'clock' | 'db' | 'log' | 'metrics'>, p: { batchId: string; robotId: string; requestIds: string[]; now: Date }): Promise<void> {
  const completed = await completeImportedBatch(ctx.db, { batchId: p.batchId, now: p.now });
  if (completed.completed) ctx.metrics.batchesImported.inc({ robot: p.robotId });
  ctx.metrics.itemsMoved(completed.moves);
  afterRequestsFinished(ctx, await finishRequestsIfDone(ctx.db, { requestIds: [...new Set([...p.requestIds, ...requestIdsOf(completed.moves)])], now: p.now }));
}
