import { Command, Option } from 'commander';
import { itemFinalStatuses, itemStatuses, priorities, requestStatuses, type ItemCounts, type ItemOut, type RecordFilter, type RequestOut } from '@refinery/protocol';
import { isFinalRequestStatus, RefineryClient, RefineryError } from '@refinery/sdk';
import { CliError, connected, withClient, type CommonFlags } from './connection.ts';
import { positiveInteger, timestamp } from './options.ts';
import { count, plural, print, printJson, printJsonArray, printTable, rowPrinter } from './output.ts';
import { progress, progressWanted, requestDisplay } from './progress.ts';
import { readRecordIds } from './recordIds.ts';
import { queryFromText } from './records.ts';

/** `refinery requests …`. */
export function registerRequestCommands(program: Command): void {
  const requests = program.command('requests').description('ask robots to enhance records, follow the requests, retry their failed items');

  connected(requests.command('create'))
    .description('ask a robot to enhance records (listed, or every one a query matches); prints the request')
    .requiredOption('--robot <id>', 'the robot id')
    .option('--records <file>', 'the record ids: one per line, JSONL records with "id", or the JSON output of `records import` (- for stdin)')
    .option('--query <query>', "instead of --records, every record a query matches: a Lucene-style string ('type:reference AND content.year:>=2020') or a JSON filter (docs/queries.md)")
    .option('--dry-run', 'with --query: print how many records match, and create nothing')
    .addOption(new Option('--priority <priority>', 'queue priority').choices(priorities))
    .option('--expires-at <time>', 'deadline, RFC 3339; unfinished items expire then', timestamp)
    .option('--ttl <duration>', 'deadline as a time from now, ISO 8601 (PT2H) or seconds; instead of --expires-at')
    .option('--callback-url <url>', 'webhook called as the request starts, moves and finishes')
    .option('--idempotency-key <key>', 'repeating the call with the same key returns the first request')
    .option('--watch', 'then follow it as `requests watch` does, to its final state (and its exit code)')
    .action(
      withClient(async (client, flags: RequestFlags) => {
        if ((flags.records === undefined) === (flags.query === undefined)) throw new CliError('give --records or --query: one of the two');
        if (flags.dryRun && flags.query === undefined) throw new CliError('--dry-run counts what --query matches');
        const common = { robot_id: flags.robot, priority: flags.priority, expires_at: flags.expiresAt, ttl: flags.ttl, callback_url: flags.callbackUrl };
        let asked: { record_ids: string[] } | { query: string } | { filter: RecordFilter };
        if (flags.query !== undefined) {
          const query = queryFromText(flags.query);
          asked = typeof query === 'string' ? { query } : { filter: query };
          if (flags.dryRun) {
            const counted = await client.createRequest({ ...common, ...asked, dry_run: true });
            if (flags.json) return printJson(counted);
            return print(`${counted.lower_bound ? `At least ${count(counted.count)} records` : plural(counted.count, 'record')} match; no request was made.`);
          }
        } else {
          const recordIds = await readRecordIds(flags.records!);
          if (recordIds.length === 0) throw new CliError(`no record ids found in ${flags.records}`);
          asked = { record_ids: recordIds };
        }
        const request = await client.createRequest({ ...common, ...asked }, { idempotencyKey: flags.idempotencyKey });
        if (flags.watch) return watchRequest(client, request.id, { json: flags.json, intervalMs: 500 });
        if (flags.json) return printJson(request);
        print(`Request ${request.id} ${request.status}: ${plural(request.total, 'record')}${request.matched === null ? '' : ' matched by the query'} for robot ${request.robot_id} (priority ${request.priority}).`);
        printRefusedAtOnce(request);
        print(`Follow it: refinery requests watch ${request.id}`);
      }),
    );

  connected(requests.command('watch'))
    .description('live progress (on stderr) until the request is final, then its outcome; exit 0 when it completed (with or without errors), 1 otherwise')
    .argument('<id>', 'request id')
    .option('--interval <ms>', 'time between two polls, in milliseconds, against a server without live events', positiveInteger, 500)
    .action(
      withClient((client, id: string, flags: CommonFlags & { interval: number }) => watchRequest(client, id, { json: flags.json, intervalMs: flags.interval })),
    );

  connected(requests.command('show'))
    .description("a request's status, counts and timestamps")
    .argument('<id>', 'request id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const request = await client.getRequest(id);
        if (flags.json) return printJson(request);
        printRequest(request);
        if (isFinalRequestStatus(request.status)) printHints(request);
        else print(`Follow it: refinery requests watch ${request.id}`);
      }),
    );

  connected(requests.command('items'))
    .description('every item of a request: status, attempts, error')
    .argument('<id>', 'request id')
    .addOption(new Option('--status <status>', 'only items in this status').choices(itemStatuses))
    .option('--limit <n>', 'stop after this many items', positiveInteger)
    .action(
      withClient(async (client, id: string, flags: CommonFlags & { status?: ItemOut['status']; limit?: number }) => {
        const total = progressWanted({ printsMeanwhile: true }) ? await itemCount(client, id, flags.status) : undefined;
        const bar = progress({ unit: 'items', total: total === undefined ? undefined : Math.min(total, flags.limit ?? Infinity), printsMeanwhile: true });
        async function* listed() {
          let n = 0;
          for await (const item of client.iterateRequestItems(id, { status: flags.status, limit: Math.min(flags.limit ?? 1000, 1000) })) {
            if (flags.limit !== undefined && n++ >= flags.limit) return;
            bar.add(1);
            yield item;
          }
        }
        try {
          if (flags.json) return void (await printJsonArray(listed()));
          const row = rowPrinter([36, 10, 8]);
          let printed = 0;
          for await (const item of listed()) {
            if (printed++ === 0) row(['RECORD', 'STATUS', 'ATTEMPTS', 'ERROR']);
            row([item.record_id, item.status, String(item.attempts).padStart(8), item.error ? `${item.error.code}: ${item.error.message}` : '']);
          }
          if (printed === 0) print(flags.status ? `No items are ${flags.status}.` : 'No items.');
        } finally {
          bar.stop();
        }
      }),
    );

  connected(requests.command('list'))
    .description('list requests, newest first (a requester key sees its own)')
    .addOption(new Option('--status <status>', 'only requests in this status').choices(requestStatuses))
    .option('--robot <id>', 'only requests for this robot')
    .option('--limit <n>', 'at most this many (default 100)', positiveInteger)
    .option('--all', 'every one, page after page')
    .action(
      withClient(async (client, flags: CommonFlags & { status?: RequestOut['status']; robot?: string; limit?: number; all?: boolean }) => {
        const limit = flags.all ? Infinity : (flags.limit ?? 100);
        let more = false;
        async function* listed() {
          let n = 0;
          let cursor: string | undefined;
          do {
            const page = await client.listRequests({ status: flags.status, robot_id: flags.robot, cursor, limit: Math.min(limit - n, 1000) });
            for (const request of page.data) {
              n++;
              yield request;
            }
            cursor = page.next_cursor ?? undefined;
          } while (cursor !== undefined && n < limit);
          more = cursor !== undefined;
        }
        if (flags.json) return void (await printJsonArray(listed()));
        const rows: string[][] = [];
        for await (const r of listed()) rows.push([r.id, r.status, r.robot_id, count(r.total), `${Math.floor(r.progress * 100)}%`, r.created_at, r.retry_of ?? '']);
        if (rows.length === 0) return print(flags.status || flags.robot ? 'No requests match.' : 'No requests yet. Make one with: refinery requests create --robot … --records …');
        printTable([['ID', 'STATUS', 'ROBOT', 'TOTAL', 'PROGRESS', 'CREATED', 'RETRY OF'], ...rows]);
        if (more) print(`(the ${count(limit)} newest; --limit N or --all for more)`);
      }),
    );

  connected(requests.command('cancel'))
    .description('cancel what has not finished')
    .argument('<id>', 'request id')
    .action(
      withClient(async (client, id: string, flags: CommonFlags) => {
        const request = await client.cancelRequest(id);
        if (flags.json) return printJson(request);
        print(`Request ${request.id} is ${request.status}.`);
        printCounts(request.counts);
      }),
    );

  connected(requests.command('retry'))
    .description("retry a finished request's failed items as a new request (again: the same retry); prints it")
    .argument('<id>', 'the finished request')
    .option('--records <file>', 'only these of its failed items: record ids, read as `requests create --records` reads them (- for stdin)')
    .addOption(new Option('--priority <priority>', "queue priority (default: the request's)").choices(priorities))
    .option('--expires-at <time>', 'deadline, RFC 3339 (default: none)', timestamp)
    .option('--ttl <duration>', 'deadline as a time from now, ISO 8601 (PT2H) or seconds; instead of --expires-at')
    .action(
      withClient(async (client, id: string, flags: CommonFlags & { records?: string; priority?: RequestOut['priority']; expiresAt?: string; ttl?: string }) => {
        const recordIds = flags.records === undefined ? undefined : await readRecordIds(flags.records);
        if (recordIds?.length === 0) throw new CliError(`no record ids found in ${flags.records}`);
        const retry = await client.retryRequest(id, { record_ids: recordIds, priority: flags.priority, expires_at: flags.expiresAt, ttl: flags.ttl });
        if (flags.json) return printJson(retry);
        print(`Request ${retry.id} (${retry.status}) retries ${plural(retry.total, 'failed item')} of request ${id}.`);
        printRefusedAtOnce(retry);
        print(`Follow it: refinery requests watch ${retry.id}`);
      }),
    );
}

interface RequestFlags extends CommonFlags {
  robot: string;
  records?: string;
  query?: string;
  dryRun?: boolean;
  priority?: (typeof priorities)[number];
  expiresAt?: string;
  ttl?: string;
  callbackUrl?: string;
  idempotencyKey?: string;
  watch?: boolean;
}

/** How many items `requests items` will list, for its progress bar. */
async function itemCount(client: RefineryClient, id: string, status: ItemOut['status'] | undefined): Promise<number> {
  const request = await client.getRequest(id);
  return status ? request.counts[status] : request.total;
}

/**
 * The request as it moves, ending with its final state. The one place that knows how
 * updates arrive: the request's live events (`GET /v1/requests/{id}/events`), each applied to
 * the snapshot, the final one read afresh (timestamps, manifest link); polling every
 * `intervalMs` against a server without the event stream.
 */
/** Live progress until the request is final, then its outcome; exit code 1 unless it completed (with or without errors). */
async function watchRequest(client: RefineryClient, id: string, options: { json?: boolean; intervalMs: number }): Promise<void> {
  const display = requestDisplay();
  let last: RequestOut | undefined;
  try {
    for await (const request of requestSnapshots(client, id, options.intervalMs)) {
      display.update(request);
      last = request;
    }
  } finally {
    display.stop();
  }
  if (options.json) printJson(last);
  else printOutcome(last!);
  if (!['completed', 'completed_with_errors'].includes(last!.status)) process.exitCode = 1;
}

async function* requestSnapshots(client: RefineryClient, id: string, intervalMs: number): AsyncIterable<RequestOut> {
  let snapshot = await client.getRequest(id);
  yield snapshot;
  if (isFinalRequestStatus(snapshot.status)) return;
  try {
    for await (const event of client.streamRequestEvents(id)) {
      if (event.type === 'request.finished') break;
      const counts = { ...snapshot.counts, ...event.data.counts };
      const finished = itemFinalStatuses.reduce((sum, s) => sum + counts[s], 0);
      snapshot = { ...snapshot, status: event.data.status, total: event.data.total, counts, progress: event.data.total === 0 ? 1 : finished / event.data.total };
      yield snapshot;
    }
  } catch (err) {
    if (!(err instanceof RefineryError && err.status === 404)) throw err;
    yield* client.watchRequest(id, { intervalMs });
    return;
  }
  yield await client.getRequest(id);
}

/** A new request's items that were denied or expired at once (their records checked as it was made), and where to read why. */
function printRefusedAtOnce(request: RequestOut): void {
  for (const status of ['denied', 'expired'] as const) {
    const n = request.counts[status];
    if (n > 0) print(`${count(n)} of them ${n === 1 ? 'was' : 'were'} ${status} at once; see why: refinery requests items ${request.id} --status ${status}`);
  }
}

/** A final request: how it ended, its counts, its manifest and what to look at next. */
function printOutcome(request: RequestOut): void {
  const took = request.finished_at && request.created_at ? ` in ${((Date.parse(request.finished_at) - Date.parse(request.created_at)) / 1000).toFixed(1)} s` : '';
  print(`Request ${request.id} ${request.status}${took}.`);
  printCounts(request.counts);
  if (request.manifest_url) print(`Manifest: ${request.manifest_url}`);
  printHints(request);
}

/** For each way an item can end badly that some did, where to read why; and how to retry the failed ones. */
function printHints(request: RequestOut): void {
  for (const status of ['failed', 'denied', 'expired', 'cancelled'] as const) {
    const n = request.counts[status];
    if (n > 0) print(`${plural(n, 'item')} ${status}; see why: refinery requests items ${request.id} --status ${status}`);
  }
  if (request.counts.failed > 0) print(`Retry the failed ones: refinery requests retry ${request.id}`);
}

function printRequest(request: RequestOut): void {
  printTable([
    ['request', request.id],
    ['robot', request.robot_id],
    ['status', request.status],
    ['priority', request.priority],
    ['requested by', request.requested_by],
    ['items', `${count(request.total)} (${Math.floor(request.progress * 100)}% final)`],
    ['created', request.created_at],
    ['started', request.started_at ?? '—'],
    ['finished', request.finished_at ?? '—'],
    ['expires', request.expires_at ?? '—'],
    ['callback', request.callback_url ?? '—'],
    ['manifest', request.manifest_url ?? '—'],
    ['retry of', request.retry_of ?? '—'],
  ]);
  printCounts(request.counts);
}

/** Counts by item status, the non-zero ones. */
function printCounts(counts: ItemCounts): void {
  const rows = itemStatuses.filter((s) => counts[s] > 0).map((s) => [`  ${s}`, count(counts[s])]);
  if (rows.length > 0) printTable(rows, { alignRight: [1] });
}
