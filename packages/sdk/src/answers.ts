/**
 * How a robot answers one batch, shared by the pull runtime and the push server: the records
 * stream in from the items file, through the handler, out as results lines.
 */
import type { Batch, ResultLine } from '@refinery/protocol';
import { mapConcurrent } from './concurrent.ts';
import { BatchError, messageOf, RecordError } from './errors.ts';
import type { RobotClient } from './robot-client.ts';
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

async function* downloadRecords(o: AnswerOptions, batch: Batch, signal: AbortSignal): AsyncGenerator<BatchRecord> {
  try {
    for await (const line of o.client.downloadItems(batch, { signal })) {
      o.onRecord?.();
      yield line.record;
    }
  } catch (err) {
    if (signal.aborted) throw err;
    throw new BatchError(`could not download the items: ${messageOf(err)}`, { retryable: true, cause: err });
  }
}

async function answerRecord(handler: RecordHandler, record: BatchRecord, ctx: BatchContext): Promise<ResultLine[]> {
  try {
    const enhancement = await handler(record, ctx);
    return enhancement == null ? [] : [{ record_id: record.id, ...enhancement }];
  } catch (err) {
    if (err instanceof BatchError) throw err;
    const retryable = err instanceof RecordError && err.retryable;
    return [{ record_id: record.id, error: { message: messageOf(err), ...(retryable && { retryable }) } }];
  }
}

async function* flatten<T>(arrays: AsyncIterable<T[]>): AsyncGenerator<T> {
  for await (const array of arrays) yield* array;
}

/** The results file's lines of one batch, as they come; a handler's crash becomes a retryable BatchError. */
export async function* batchResultLines(o: AnswerOptions, batch: Batch, ctx: BatchContext): AsyncGenerator<ResultLine> {
  const records = downloadRecords(o, batch, ctx.signal);
  const lines = o.handleBatch ? o.handleBatch(records, ctx) : flatten(mapConcurrent(records, o.recordConcurrency, (record) => answerRecord(o.handler!, record, ctx)));
  try {
    for await (const line of lines) {
      if ('error' in line) o.onRecordError?.();
      yield 'error' in line || line.robot_version !== undefined || o.robotVersion === undefined ? line : { ...line, robot_version: o.robotVersion };
    }
  } catch (err) {
    if (err instanceof BatchError || ctx.signal.aborted) throw err;
    throw new BatchError(`the handler failed: ${messageOf(err)}`, { retryable: true, cause: err });
  }
}
