/**
 * The CLI's client commands: talk to a running Refinery over HTTP through @refinery/sdk.
 *
 * Output: commands whose answer you keep (`robots create`, `keys create`, `records import`)
 * print JSON on stdout and a friendly summary on stderr, so `> file.json` keeps the answer;
 * the others print for a person, or the raw JSON with `--json`. Errors print the server's
 * message and exit 1.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import {
  itemFinalStatuses,
  itemStatuses,
  parseDuration,
  priorities,
  requestStatuses,
  roles,
  type ItemCounts,
  type ItemOut,
  type RequestOut,
  type RobotIn,
  type RobotOut,
  uuidPattern,
} from '@refinery/protocol';
import { allPages, isFinalRequestStatus, messageOf, RefineryClient, RefineryError } from '@refinery/sdk';

const defaultUrl = 'http://localhost:8080';

export function registerClientCommands(program: Command): void {
  const robots = program.command('robots').description('register and list robots (admin key)');

  connected(robots.command('create'))
    .description('register a robot; prints its id and its secret (shown once)')
    .requiredOption('--name <name>', 'unique name')
    .requiredOption('--accepts <types>', 'record types it enhances, comma-separated (e.g. reference)', commaList)
    .requiredOption('--produces <types>', 'enhancement types it writes, comma-separated (e.g. annotation)', commaList)
    .option('--needs <types>', 'enhancement types to include with each record, comma-separated', commaList)
    .option('--owner <owner>', 'who runs it')
    .option('--description <text>', 'what it does')
    .option('--max-batch-size <n>', 'most items in one batch (default 1000)', positiveInteger)
    .option('--lease <duration>', 'default lease, ISO 8601 or seconds (default PT10M)', duration)
    .option('--max-attempts <n>', 'attempts per item before it fails (default 3)', positiveInteger)
    .option('--push-url <url>', 'deliver batches by POSTing them to this URL instead of letting the robot pull')
    .option('--env', 'print `export ROBOT_ID=… ROBOT_SECRET=…` instead of JSON, for `eval "$(…)"`')
    .action(
      withClient(async (client, flags: RobotFlags & { env?: boolean }) => {
        const robot = await client.createRobot(robotFromFlags(flags));
        const exports = `export ROBOT_ID=${robot.id} ROBOT_SECRET=${robot.secret}`;
        if (flags.env) print(exports);
        else printJson(robot);
        note(`\nRobot "${robot.name}" registered. Its secret is shown only this once: keep it.`);
        if (!flags.env) note(`  ${exports}`);
      }),
    );

  connected(robots.command('list'))
    .description('list the robots')
    .option('--json', 'print JSON')
    .action(
      withClient(async (client, flags: { json?: boolean }) => {
        const all: RobotOut[] = [];
        for await (const robot of allPages((cursor) => client.listRobots({ cursor, limit: 1000 }))) all.push(robot);
        if (flags.json) return printJson(all);
        if (all.length === 0) return print('No robots yet. Register one with: refinery robots create --name … --accepts … --produces …');
        printTable([
          ['ID', 'NAME', 'ACTIVE', 'ACCEPTS', 'PRODUCES', 'DELIVERY', 'BATCH', 'LEASE'],
          ...all.map((r) => [
            r.id,
            r.name,
            r.active ? 'yes' : 'paused',
            r.accepts.join(','),
            r.produces.map((p) => p.type).join(','),
            r.delivery.mode === 'push' ? `push ${r.delivery.url}` : 'pull',
            String(r.max_batch_size),
            r.lease,
          ]),
        ]);
      }),
    );

  const keys = program.command('keys').description('API keys (admin key)');
  connected(keys.command('create'))
    .description('make an API key; prints it (shown once)')
    .requiredOption('--name <name>', 'what the key is for')
    .addOption(new Option('--role <role>', 'what it may do').choices(roles).default('requester'))
    .action(
      withClient(async (client, flags: { name: string; role: (typeof roles)[number] }) => {
        const key = await client.createApiKey({ name: flags.name, role: flags.role });
        printJson(key);
        note(`\nAPI key "${key.name}" (${key.role}) made. It is shown only this once: keep it.`);
        note(`  export REFINERY_API_KEY=${key.key}`);
      }),
    );

  connected(keys.command('list'))
    .description('list the API keys (never their values)')
    .option('--json', 'print JSON')
    .action(
      withClient(async (client, flags: { json?: boolean }) => {
        const { data } = await client.listApiKeys();
        if (flags.json) return printJson(data);
        printTable([['ID', 'NAME', 'ROLE', 'CREATED'], ...data.map((k) => [k.id, k.name, k.role, k.created_at])]);
      }),
    );

  const records = program.command('records').description('import and read records');
  connected(records.command('import'))
    .description('upsert records from a JSONL or JSON-array file (- for stdin), streamed; prints {ids, created, updated}')
    .argument('<file>', 'records, one JSON object a line or one JSON array; - reads stdin')
    .action(
      withClient(async (client, file: string) => {
        const source = file === '-' ? process.stdin : createReadStream(file);
        const startedAt = performance.now();
        const result = await client.importRecords(source);
        const seconds = (performance.now() - startedAt) / 1000;
        const summary = `Imported ${plural(result.ids.length, 'record')} (${count(result.created)} created, ${count(result.updated)} updated) in ${seconds.toFixed(1)} s`;
        if (process.stdout.isTTY) {
          print(summary);
          print('To keep their ids for a request, redirect the output: refinery records import FILE > imported.json');
        } else {
          printJson(result, { compact: true });
          note(summary);
        }
      }),
    );

  connected(records.command('show'))
    .description('a record with its enhancements (JSON)')
    .argument('<id>', 'record id')
    .action(withClient(async (client, id: string) => printJson(await client.getRecord(id))));

  const requests = program.command('requests').description('ask robots to enhance records, and follow the requests');
  connected(requests.command('create'))
    .description('ask a robot to enhance records; prints the request')
    .requiredOption('--robot <id>', 'the robot id')
    .requiredOption('--records <file>', 'the record ids: one per line, JSONL records with "id", or the JSON output of `records import` (- for stdin)')
    .addOption(new Option('--priority <priority>', 'queue priority').choices(priorities))
    .option('--expires-at <time>', 'deadline, RFC 3339; unfinished items expire then', timestamp)
    .option('--ttl <duration>', 'deadline as a time from now, ISO 8601 (PT2H) or seconds; instead of --expires-at')
    .option('--callback-url <url>', 'webhook called when the request finishes')
    .option('--idempotency-key <key>', 'repeating the call with the same key returns the first request')
    .option('--watch', 'then follow it as `requests watch` does, to its final state (and its exit code)')
    .option('--json', 'print JSON')
    .action(
      withClient(async (client, flags: RequestFlags) => {
        const recordIds = await readRecordIds(flags.records);
        if (recordIds.length === 0) throw new CliError(`no record ids found in ${flags.records}`);
        const request = await client.createRequest(
          { robot_id: flags.robot, record_ids: recordIds, priority: flags.priority, expires_at: flags.expiresAt, ttl: flags.ttl, callback_url: flags.callbackUrl },
          { idempotencyKey: flags.idempotencyKey },
        );
        if (flags.json) printJson(request);
        else {
          print(`Request ${request.id} ${request.status}: ${plural(request.total, 'record')} for robot ${request.robot_id} (priority ${request.priority}).`);
          const denied = request.counts.denied + request.counts.expired;
          if (denied > 0) print(`${count(denied)} of them were refused at once (denied or expired): see \`refinery requests items ${request.id} --status denied\`.`);
          if (!flags.watch) print(`Follow it: refinery requests watch ${request.id}`);
        }
        if (flags.watch) await watchRequest(client, request.id, 500);
      }),
    );

  connected(requests.command('watch'))
    .description('live progress until the request is final; exit 0 when it completed (with or without errors), 1 otherwise')
    .argument('<id>', 'request id')
    .option('--interval <ms>', 'time between two polls, in milliseconds, against a server without live events', positiveInteger, 500)
    .action(
      withClient((client, id: string, flags: { interval: number }) => watchRequest(client, id, flags.interval)),
    );

  connected(requests.command('show'))
    .description("a request's status, counts and timestamps")
    .argument('<id>', 'request id')
    .option('--json', 'print JSON')
    .action(
      withClient(async (client, id: string, flags: { json?: boolean }) => {
        const request = await client.getRequest(id);
        if (flags.json) return printJson(request);
        printRequest(request);
      }),
    );

  connected(requests.command('items'))
    .description("every item of a request: status, attempts, error")
    .argument('<id>', 'request id')
    .addOption(new Option('--status <status>', 'only items in this status').choices(itemStatuses))
    .option('--limit <n>', 'stop after this many items', positiveInteger)
    .option('--json', 'print JSON Lines')
    .action(
      withClient(async (client, id: string, flags: { status?: ItemOut['status']; limit?: number; json?: boolean }) => {
        let printed = 0;
        if (!flags.json) print(itemRow('RECORD', 'STATUS', 'ATTEMPTS', 'ERROR'));
        for await (const item of client.iterateRequestItems(id, { status: flags.status, limit: Math.min(flags.limit ?? 1000, 1000) })) {
          if (flags.limit !== undefined && printed >= flags.limit) break;
          printed++;
          if (flags.json) print(JSON.stringify(item));
          else print(itemRow(item.record_id, item.status, String(item.attempts), item.error ? `${item.error.code}: ${item.error.message}` : ''));
        }
        if (!flags.json && printed === 0) print(flags.status ? `No items are ${flags.status}.` : 'No items.');
      }),
    );

  connected(requests.command('list'))
    .description('list requests, newest first')
    .addOption(new Option('--status <status>', 'only requests in this status').choices(requestStatuses))
    .option('--robot <id>', 'only requests for this robot')
    .option('--json', 'print JSON')
    .action(
      withClient(async (client, flags: { status?: RequestOut['status']; robot?: string; json?: boolean }) => {
        const page = await client.listRequests({ status: flags.status, robot_id: flags.robot, limit: 100 });
        if (flags.json) return printJson(page);
        if (page.data.length === 0) return print('No requests.');
        printTable([
          ['ID', 'STATUS', 'ROBOT', 'TOTAL', 'PROGRESS', 'CREATED'],
          ...page.data.map((r) => [r.id, r.status, r.robot_id, count(r.total), `${Math.floor(r.progress * 100)}%`, r.created_at]),
        ]);
        if (page.next_cursor) print('(the 100 newest; use --json and the API for more)');
      }),
    );

  connected(requests.command('cancel'))
    .description('cancel what has not finished')
    .argument('<id>', 'request id')
    .action(
      withClient(async (client, id: string) => {
        const request = await client.cancelRequest(id);
        print(`Request ${request.id} is ${request.status}.`);
      }),
    );
}

// ── connection and errors ────────────────────────────────────────────────────

interface ConnectionFlags {
  url: string;
  key?: string;
}

/** Adds `--url` and `--key` (or REFINERY_URL, REFINERY_API_KEY) to a command. */
function connected(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'Refinery base URL').env('REFINERY_URL').default(defaultUrl))
    .addOption(new Option('--key <key>', 'API key').env('REFINERY_API_KEY'));
}

/** A mistake of the person at the keyboard: printed as it is. */
class CliError extends Error {}

/**
 * A commander action with a client made from the command's `--url`/`--key`. The wrapped
 * function gets the client, then the command's arguments and its options.
 */
function withClient<A extends unknown[]>(action: (client: RefineryClient, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const flags = command.opts<ConnectionFlags>();
    try {
      if (!flags.key) throw new CliError('no API key: pass --key or set REFINERY_API_KEY (`refinery serve` prints an admin key at first start)');
      const client = new RefineryClient({ url: flags.url, apiKey: flags.key });
      await action(client, ...(args.slice(0, -1) as A));
    } catch (err) {
      process.stderr.write(`error: ${describeError(err, flags.url)}\n`);
      process.exitCode = 1;
    }
  };
}

function describeError(err: unknown, url: string): string {
  if (err instanceof RefineryError) {
    // A list of schema errors only repeats the message; other details (e.g. which record) help.
    const details = err.details === undefined || Array.isArray(err.details) ? '' : `\n  details: ${JSON.stringify(err.details)}`;
    const requestId = err.requestId ? `, request id ${err.requestId}` : '';
    return `${err.message} (${err.code}, HTTP ${err.status}${requestId})${details}`;
  }
  if (err instanceof TypeError && err.message === 'fetch failed') return `cannot reach Refinery at ${url}: ${messageOf(err.cause ?? err)}`;
  return messageOf(err);
}

// ── option parsers ───────────────────────────────────────────────────────────

function commaList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('give at least one, comma-separated');
  return items;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function duration(value: string): string {
  if (parseDuration(value) === null) throw new InvalidArgumentError('must be ISO 8601 (PT10M) or seconds (600)');
  return value;
}

function timestamp(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError('must be an RFC 3339 time, e.g. 2030-01-31T12:00:00Z');
  return new Date(value).toISOString();
}

interface RobotFlags {
  name: string;
  accepts: string[];
  produces: string[];
  needs?: string[];
  owner?: string;
  description?: string;
  maxBatchSize?: number;
  lease?: string;
  maxAttempts?: number;
  pushUrl?: string;
}

function robotFromFlags(flags: RobotFlags): RobotIn {
  return {
    name: flags.name,
    owner: flags.owner,
    description: flags.description,
    accepts: flags.accepts,
    produces: flags.produces.map((type) => ({ type })),
    needs: flags.needs,
    delivery: flags.pushUrl ? { mode: 'push', url: flags.pushUrl } : undefined,
    max_batch_size: flags.maxBatchSize,
    lease: flags.lease,
    max_attempts: flags.maxAttempts,
  };
}

interface RequestFlags {
  robot: string;
  watch?: boolean;
  records: string;
  priority?: (typeof priorities)[number];
  expiresAt?: string;
  ttl?: string;
  callbackUrl?: string;
  idempotencyKey?: string;
  json?: boolean;
}

/**
 * The record ids in a file, in order, each once. Takes, forgivingly: one id a line; JSON
 * Lines of records (their `id`); the JSON output of `records import` (its `ids`); a JSON
 * array of ids or of records; a page from the API (its `data`).
 */
async function readRecordIds(path: string): Promise<string[]> {
  const text = await readText(path === '-' ? process.stdin : createReadStream(path));
  const ids: string[] = [];
  const take = (value: unknown, where: string) => {
    if (typeof value === 'string' && uuidPattern.test(value)) ids.push(value);
    else if (Array.isArray(value)) value.forEach((v) => take(v, where));
    else if (value && typeof value === 'object' && 'ids' in value) take(value.ids, where);
    else if (value && typeof value === 'object' && 'data' in value) take(value.data, where);
    else if (value && typeof value === 'object' && 'id' in value) take(value.id, where);
    else throw new CliError(`${path}${where}: expected a record id, not ${JSON.stringify(value)?.slice(0, 80)}`);
  };
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) take(whole, '');
  else {
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim().replace(/^"(.*)",?$/, '$1');
      if (line === '' || line.startsWith('#')) return;
      if (line.startsWith('{')) {
        try {
          return take(JSON.parse(line), ` line ${i + 1}`);
        } catch (err) {
          if (err instanceof CliError) throw err;
          throw new CliError(`${path} line ${i + 1}: not JSON`);
        }
      }
      take(line, ` line ${i + 1}`);
    });
  }
  return [...new Set(ids)];
}

async function readText(stream: Readable): Promise<string> {
  stream.setEncoding('utf8');
  let text = '';
  for await (const chunk of stream) text += chunk as string;
  return text;
}

// ── request progress ─────────────────────────────────────────────────────────

/**
 * The request as it moves, ending with its final state. The one place that knows how
 * updates arrive: the request's live events (`GET /v1/requests/{id}/events`), each applied to
 * the snapshot, the final one read afresh (timestamps, manifest link); polling every
 * `intervalMs` against a server without the event stream.
 */
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

/** Live progress until the request is final, then its final counts; exit code 1 unless it completed. */
async function watchRequest(client: RefineryClient, id: string, intervalMs: number): Promise<void> {
  const display = process.stderr.isTTY ? progressBar() : progressLines();
  let last: RequestOut | undefined;
  try {
    for await (const request of requestSnapshots(client, id, intervalMs)) {
      display.update(request);
      last = request;
    }
  } finally {
    display.stop();
  }
  printFinal(last!);
  if (!['completed', 'completed_with_errors'].includes(last!.status)) process.exitCode = 1;
}

interface ProgressDisplay {
  update(request: RequestOut): void;
  stop(): void;
}

function tally(counts: ItemCounts) {
  return {
    finished: itemFinalStatuses.reduce((sum, s) => sum + counts[s], 0),
    succeeded: counts.completed + counts.discarded,
    unsuccessful: counts.failed + counts.denied + counts.expired + counts.cancelled,
  };
}

/** A live bar on a terminal. */
function progressBar(): ProgressDisplay {
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {value}/{total} items | completed {succeeded} · failed {unsuccessful} | {status} | {duration_formatted}',
      hideCursor: true,
      fps: 4,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(request) {
      const { finished, ...payload } = tally(request.counts);
      if (!started) bar.start(request.total, finished, { ...payload, status: request.status });
      else bar.update(finished, { ...payload, status: request.status });
      started = true;
    },
    stop: () => bar.stop(),
  };
}

/** Plain lines for logs (no terminal): one when something changed, at most every 2 s. */
function progressLines(): ProgressDisplay {
  let lastLine = '';
  let lastAt = 0;
  return {
    update(request) {
      const { finished, succeeded, unsuccessful } = tally(request.counts);
      const percent = request.total === 0 ? 100 : Math.floor((finished / request.total) * 100);
      const line = `${request.status} ${count(finished)}/${count(request.total)} (${percent}%) completed ${count(succeeded)} failed ${count(unsuccessful)}`;
      const final = isFinalRequestStatus(request.status);
      if (line === lastLine || (!final && Date.now() - lastAt < 2_000)) return;
      process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      lastLine = line;
      lastAt = Date.now();
    },
    stop() {},
  };
}

function printFinal(request: RequestOut): void {
  const took = request.finished_at && request.created_at ? ` in ${((Date.parse(request.finished_at) - Date.parse(request.created_at)) / 1000).toFixed(1)} s` : '';
  print(`Request ${request.id} ${request.status}${took}.`);
  printCounts(request.counts);
  if (request.manifest_url) print(`Manifest: ${request.manifest_url}`);
  if (tally(request.counts).unsuccessful > 0) print(`Why items failed: refinery requests items ${request.id} --status failed`);
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
  ]);
  printCounts(request.counts);
}

/** Counts by item status, the non-zero ones. */
function printCounts(counts: ItemCounts): void {
  const rows = itemStatuses.filter((s) => counts[s] > 0).map((s) => [`  ${s}`, count(counts[s])]);
  if (rows.length > 0) printTable(rows, { alignRight: [1] });
}

// ── output ───────────────────────────────────────────────────────────────────

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** On stderr: for the person, not for whatever reads stdout. */
function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

function printJson(value: unknown, options: { compact?: boolean } = {}): void {
  print(options.compact ? JSON.stringify(value) : JSON.stringify(value, null, 2));
}

function printTable(rows: string[][], options: { alignRight?: number[] } = {}): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === row.length - 1 && !options.alignRight?.includes(column)
        ? cell
        : options.alignRight?.includes(column)
          ? cell.padStart(widths[column]!)
          : cell.padEnd(widths[column]!),
    );
    print(cells.join('  '));
  }
}

function itemRow(recordId: string, status: string, attempts: string, error: string): string {
  return `${recordId.padEnd(36)}  ${status.padEnd(10)}  ${attempts.padStart(8)}  ${error}`.trimEnd();
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
