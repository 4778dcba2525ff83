/**
 * How a robot answers one batch, shared by the pull runtime and the push server: the records
 * stream in from the items file, through the handler, out as results lines.
 */
import type { Batch, ResultLine } from '@refinery/protocol';
import { mapConcurrent } from './concurrent.ts';
import { BatchError, messageOf, RecordError } from './errors.ts';
import type { DownloadOptions, RobotClient } from './robot-client.ts';
import type { BatchContext, BatchHandler, BatchRecord, RecordHandler } from './runtime.ts';

export interface AnswerOptions {
  client: RobotClient;
  handler?: RecordHandler;
  handleBatch?: BatchHandler;
  recordConcurrency: number;
  robotVersion?: string;
  /** Called for each record downloaded and each per-record error written (statistics). */
  onRecord?: () => void;
  onRecordError?: () => void;
}

/** How a download lost to the network is tried again (RobotClient.downloadItemChunks); once, without. */
export type DownloadRetry = Pick<DownloadOptions, 'retryUntil' | 'onRetry'>;

/** The batch's records, a network chunk's worth at a time; a failed download becomes a retryable BatchError. */
async function* downloadRecordChunks(o: AnswerOptions, batch: Batch, signal: AbortSignal, retry: DownloadRetry): AsyncGenerator<BatchRecord[]> {
  try {
    for await (const lines of o.client.downloadItemChunks(batch, { signal, ...retry })) {
      const records = lines.map((line) => line.record);
      if (o.onRecord) for (let i = 0; i < records.length; i++) o.onRecord();
      yield records;
    }
  } catch (err) {
    if (signal.aborted) throw err;
    throw new BatchError(`could not download the items: ${messageOf(err)}`, { retryable: true, cause: err });
  }
}

async function* downloadRecords(o: AnswerOptions, batch: Batch, signal: AbortSignal, retry: DownloadRetry): AsyncGenerator<BatchRecord> {
  for await (const records of downloadRecordChunks(o, batch, signal, retry)) yield* records;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T> | null)?.then === 'function';

function linesOf(record: BatchRecord, enhancement: Awaited<ReturnType<RecordHandler>>): ResultLine[] {
  return enhancement == null ? [] : [{ record_id: record.id, ...enhancement }];
}

function failed(record: BatchRecord, err: unknown): ResultLine[] {
  if (err instanceof BatchError) throw err;
  const retryable = err instanceof RecordError && err.retryable;
  return [{ record_id: record.id, error: { message: messageOf(err), ...(retryable && { retryable }) } }];
}

/**
 * One record's results lines; synchronous when the handler is (no promise per record then, and no
 * function made per record: under tsx each one costs a `__name` call, which showed in a toy robot's
 * CPU profile).
 */
function answerRecord(handler: RecordHandler, record: BatchRecord, ctx: BatchContext): ResultLine[] | Promise<ResultLine[]> {
  try {
    const answered = handler(record, ctx);
    return isPromise(answered) ? answered.then((e) => linesOf(record, e), (err) => failed(record, err)) : linesOf(record, answered);
  } catch (err) {
    return failed(record, err);
  }
}

/**
 * The results file's lines of one batch, as they come; a handler's crash becomes a retryable
 * BatchError. Records answered one at a time (the default) are taken a network chunk at a time,
 * so a record costs one asynchronous step on its way through rather than one per stage.
 */
export async function* batchResultLines(o: AnswerOptions, batch: Batch, ctx: BatchContext, retry: DownloadRetry = {}): AsyncGenerator<ResultLine> {
  const finished = (line: ResultLine): ResultLine => {
    if ('error' in line) {
      o.onRecordError?.();
      return line;
    }
    return line.robot_version !== undefined || o.robotVersion === undefined ? line : { ...line, robot_version: o.robotVersion };
  };
  try {
    if (o.handleBatch) {
      for await (const line of o.handleBatch(downloadRecords(o, batch, ctx.signal, retry), ctx)) yield finished(line);
    } else if (o.recordConcurrency > 1) {
      const handler = o.handler!;
      for await (const lines of mapConcurrent(downloadRecords(o, batch, ctx.signal, retry), o.recordConcurrency, async (record) => answerRecord(handler, record, ctx))) {
        for (const line of lines) yield finished(line);
      }
    } else {
      const handler = o.handler!;
      for await (const records of downloadRecordChunks(o, batch, ctx.signal, retry)) {
        for (const record of records) {
          const answered = answerRecord(handler, record, ctx);
          for (const line of isPromise(answered) ? await answered : answered) yield finished(line);
        }
      }
    }
  } catch (err) {
    if (err instanceof BatchError || ctx.signal.aborted) throw err;
    throw new BatchError(`the handler failed: ${messageOf(err)}`, { retryable: true, cause: err });
  }
}
